package maildirbackend

// SetIndexOff keeps folders opened from now on from using an index, so
// that benchmarks can compare with and without it.
func SetIndexOff(off bool) { indexOff.Store(off) }
