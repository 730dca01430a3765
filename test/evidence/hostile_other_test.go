//go:build !unix

package evidence

// Symbolic links, FIFOs and PATH_MAX need a Unix file system; CI runs on Linux.
func platformHostileCases() []hostileCase { return nil }

func platformFileFaults() []kvFault { return nil }
