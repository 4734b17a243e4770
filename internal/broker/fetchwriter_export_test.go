package broker

// SendfileCalls is the number of record ranges sent with sendfile(2) so far, for the
// end-to-end tests (package broker_test) to check that the zero-copy path is taken.
func SendfileCalls() int64 { return sendfileCalls.Load() }
