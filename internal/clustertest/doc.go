// Package clustertest runs a real multi-node Samsa cluster for end-to-end tests: N
// `samsa server` processes, each in its own Linux network namespace with its own IP on a
// private bridge, so that a test can kill, stop, pause and restart nodes and cut the
// network between chosen pairs of them while a client in the test process keeps reaching
// every node.
//
// It needs root and iproute2's `ip` (network namespaces, veth pairs, a bridge); Start
// and NewNetwork fail the test with a clear message otherwise, rather than skip, so a CI
// machine that silently lost the capability does not turn the cluster tests green.
//
// # Network layout
//
// Every Network has a key "<pid>-<seq>" (the test process's pid and a per-process
// counter, both in base 36 so that every name fits Linux's 15-byte interface names).
// It owns:
//
//	bridge     smsbr<key>             in the root namespace, address 10.<a>.<b>.1/24
//	namespace  samsa-<key>-n<i>       node i, address 10.<a>.<b>.<10+i>/24 on its eth0
//	veth       smsv<key>-<i>          host end of node i's pair, a port of the bridge
//
// The /24 is chosen from 10.200.0.0–10.249.255.0, starting at a point derived from the
// pid and counter and skipping any subnet that overlaps an address or route already in
// the root namespace. Names carry the pid so that Start can remove what a crashed
// earlier run left behind: a namespace, bridge or veth with this package's name pattern
// whose pid no longer exists is deleted (and processes still inside such a namespace are
// killed). This assumes test processes share one pid namespace.
//
// # Partitions
//
// Cut(a, b) installs, in a's namespace, the policy rule
//
//	ip rule add pref 10 from <ip of b>/32 blackhole
//
// and the mirror rule in b's namespace. Each namespace's rule for the local routing
// table is moved from preference 0 to 100 when the namespace is built, so these rules
// are consulted first, for incoming packets too: every packet from the peer is dropped
// on arrival, without an ICMP error or a TCP reset. A new connection therefore times
// out and an established one stalls, as across a real partition; the test process
// (10.<a>.<b>.1) is never cut off. A blackhole *route* to the peer, the obvious
// alternative, is not silent: connect(2) to a blackholed destination fails at once with
// EINVAL, which would exercise a code path a real partition never takes.
package clustertest
