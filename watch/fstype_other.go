//go:build !linux

package watch

// NetworkFS is not implemented off Linux: it returns "", and folders rely
// on the safety check.
func NetworkFS(string) string { return "" }
