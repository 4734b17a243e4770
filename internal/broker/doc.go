// Package broker is the Kafka protocol server of a Samsa node: it accepts client
// connections, frames and decodes requests with kmsg, dispatches each to the handler of
// its API (one file per API, named for it: produce.go, fetch.go, ...), and writes the
// responses back in request order.
//
// A connection is served by one goroutine that reads a request, handles it and writes
// its response before reading the next, as Kafka does: requests pipelined by a client
// queue in the socket and are answered in order. A handler that waits (a long-polling
// fetch, an acks=all produce in the group-commit flush mode) therefore holds only its own
// connection.
//
// The broker owns nothing persistent itself: topic metadata lives in the metadata
// quorum (package metadata), partition data in the replica manager (package replica)
// over the commit logs (package commitlog).
package broker
