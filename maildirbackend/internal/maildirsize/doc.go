// Package maildirsize reads and writes the Maildir++ quota file
// "maildirsize" as Courier, maildrop, Postfix's VDA patch and Dovecot's
// maildir quota backend (src/plugins/quota/quota-maildir.c) do, so that all
// of them may keep one file together.
//
// The file is a header line of limits ("1073741824S,1000C": bytes and
// messages, either may be missing, "0S" for none) followed by lines of
// "<bytes> <count>" deltas. Each writer appends one line per change with a
// single write on an O_APPEND descriptor; a reader sums them. Nobody locks
// the file: a reader that finds it missing, broken, larger than 5120 bytes,
// over quota with more than one delta line or older than 15 minutes, or
// with other limits than its own, recalculates it by scanning every
// folder's new/ and cur/ (the size from the ",S=" of a file name, else
// stat) and replaces it with a new file written under a temporary name and
// renamed over it. A change made while another process recalculates may be
// lost; the next recalculation puts it right, as Maildir++ intends.
package maildirsize
