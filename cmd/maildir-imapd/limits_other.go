//go:build !unix

package main

// defaultMaxConnections is max_connections when it is 0: no cap where the
// open-file limit cannot be read.
func defaultMaxConnections() int { return -1 }
