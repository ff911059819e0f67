// Package inflate is a streaming decoder of raw DEFLATE (RFC 1951, no
// zlib header) that hands out decoded bytes as soon as it has them.
//
// compress/flate keeps the decoded bytes of a block until the block ends
// or its window fills. An IMAP client under COMPRESS=DEFLATE (RFC 4978)
// may leave a block open after a command (mbsync does), then wait for the
// answer; a server reading through compress/flate never sees the command.
// Reader returns what it has decoded whenever its Source has no buffered
// input left, and keeps all of its state (block, tables, pending copy, bit
// buffer) between calls, so it can stop at any symbol and resume there.
package inflate
