package maildirbackend

import (
	"github.com/emersion/go-imap/v2"
)

// Errors the client sees. They never contain paths.
var (
	errNoSuchMailbox = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeNonExistent,
		Text: "No such mailbox",
	}
	errTryCreate = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeTryCreate,
		Text: "No such mailbox",
	}
	errBadName = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeCannot,
		Text: "Invalid mailbox name",
	}
	errNameTooLong = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeCannot,
		Text: "Mailbox name too long",
	}
	errMailboxExists = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeAlreadyExists,
		Text: "Mailbox already exists",
	}
	errInboxDelete = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeCannot,
		Text: "INBOX cannot be deleted",
	}
	errTooBig = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeTooBig,
		Text: "Message exceeds the APPEND limit",
	}
	errTooManyKeywords = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeLimit,
		Text: "No more keywords can be stored in this mailbox",
	}
	errReadOnly = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCode("READ-ONLY"),
		Text: "Mailbox is read-only",
	}
	errNoSpace = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeOverQuota,
		Text: "Not enough disk space",
	}
	errPermission = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeNoPerm,
		Text: "Permission denied on the mail store",
	}
	errBusy = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeInUse,
		Text: "Mailbox is locked by another process; try again",
	}
	errReplaced = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeUnavailable,
		Text: "Mailbox was replaced on disk; try again",
	}
	errUnsafeFolder = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeNoPerm,
		Text: "Mailbox directory is a symbolic link or not a directory; refused",
	}
	// Dovecot (src/lib-storage/mailbox-keywords.c, mailbox_keyword_is_valid)
	// answers NO [CANNOT] with these texts for a keyword it will not create.
	errKeywordTooLong = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeCannot,
		Text: "Keyword length too long",
	}
	errKeywordChars = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeCannot,
		Text: "Invalid characters in keyword",
	}
	errKeyword8bit = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeCannot,
		Text: "8bit characters in keyword",
	}
	errNotRegular = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeCorruption,
		Text: "A file of the mail store is a link, FIFO or device; refused",
	}
	errNotSelected = &imap.Error{
		Type: imap.StatusResponseTypeBad,
		Code: imap.ResponseCodeClientBug,
		Text: "No mailbox selected",
	}
)
