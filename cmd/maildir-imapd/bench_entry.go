package main

import "errors"

// runBench is replaced by bench.go's implementation.
func runBench(args []string) error { return errors.New("bench: not built yet") }
