// Package metadata is the cluster's metadata: topics, topic ids, partitions, leaders,
// configs and producer-id blocks, as an immutable Image changed only by applying Records.
// Records are ordered and persisted by a Quorum (a local file on a single node, a Raft log
// in a cluster); the Controller validates requests and turns them into records.
//
// The design follows Kafka's KRaft: the Image is the state machine, Records are the log
// entries (serialisable to JSON so a Raft log can carry them), and Image.Apply is the
// deterministic transition function. Apply never mutates the image it is called on:
// it copies what changes and shares the rest, so readers holding an old image need no
// lock.
//
// # On-disk format of the local quorum
//
// The single-node quorum (OpenLocalQuorum) keeps one file, metadata.json, in its
// directory. It holds the whole image, rewritten on every Propose: the data is small and
// changes rarely, so a log plus snapshots would buy nothing. A write goes to
// metadata.json.tmp, is fsynced, renamed over metadata.json, and the directory is
// fsynced; a crash leaves either the old or the new file, never a mix. A stale
// metadata.json.tmp found at open is the remains of an interrupted write and is removed.
//
// The file is one UTF-8 JSON object (encoding/json, with a trailing newline) and
// nothing else; unknown fields are rejected:
//
//	{
//	  "format": 1,                  // always 1; any other value is an error
//	  "offset": 12,                 // records applied to reach this image, >= 0
//	  "clusterId": "Xo8...",        // cluster.id, non-empty
//	  "controllerId": 1,            // node.id of the controller, >= 0
//	  "nextProducerId": 2000,       // first producer id not yet handed out, >= 0
//	  "clusterSecret": "9f2c...",   // inter-node credential seed; omitted when empty
//	  "brokers": [                  // sorted by id, ids distinct and >= 0
//	    {"id": 1, "host": "h", "port": 9092, "rack": "",   // port 0..65535
//	     "epoch": 7, "fenced": false,            // broker epoch >= 0; omitted when 0/false
//	     "inControlledShutdown": false}          // omitted when false
//	  ],
//	  "brokerConfigs": {            // resource name ("" = cluster default, else a broker
//	    "1": {"key": "value"}       // id in decimal) -> overrides; omitted when empty
//	  },
//	  "topics": [                   // sorted by name; names valid, names and ids distinct
//	    {
//	      "name": "orders",
//	      "id": "mK3g...",          // topic id: 16 bytes, base64url without padding
//	      "configs": {"retention.ms": "1000"},   // omitted when empty
//	      "partitions": [           // partition i at index i, "id": i
//	        {"id": 0, "replicas": [1, 2], "isr": [1, 2], "leader": 1,
//	         "leaderEpoch": 0, "partitionEpoch": 0,
//	         "addingReplicas": [3],      // reassignment in progress: target replicas
//	         "removingReplicas": [1]}    // not yet caught up / old replicas leaving;
//	                                     // each omitted when empty
//	      ]
//	    }
//	  ]
//	}
//
// Partition invariants (also enforced by Apply): replicas non-empty, distinct, registered
// brokers; isr a subset of replicas; leader is -1 (none) or a member of isr; isr is empty
// only when leader is -1; epochs >= 0; addingReplicas and removingReplicas are distinct,
// disjoint subsets of replicas, and the target (replicas minus removingReplicas) is
// never empty.
//
// Decoding (DecodeImage) turns the file back into the records that build it and applies
// them to an empty image, so a file that parses but breaks an invariant is rejected
// exactly like a bad record would be. Files larger than MaxMetadataFileSize are rejected
// before being read. Decoding errors wrap ErrCorrupt.
package metadata
