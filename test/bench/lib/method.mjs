// The "how it is measured" section of BENCHMARKS.md, generated with the
// figures so it always describes the code that produced them.
export const METHOD = `
## How it is measured

**Both sides, same run.** Every workload runs Cairn (\`@cairn/node\`'s
\`NodePeer\`, the typed database API, Cairn's replication) and plain
automerge-repo 2.5.6 written the way its documentation shows (\`Repo\` with
\`NodeFSStorageAdapter\`, \`WebSocketClientAdapter\` / \`WebSocketServerAdapter\`
on a \`ws\` server, \`repo.create\`, \`repo.find\`, \`handle.change\`, a share
policy that announces everything). Each repetition runs one side, then the
other, alternating which goes first, so drift in the machine's load falls on
both; the table gives the median of the repetitions and their range.

**Processes.** Every peer is its own OS process (\`test/bench/peer.mjs\`,
driven over stdin JSON lines like the test fixture), started fresh for each
measurement unless said otherwise; timings are taken inside the peer process
around the work itself (not process start or module import). Peers that sync
are two processes on loopback WebSocket. Every directory a measurement opens
is a fresh copy, so nothing one measurement writes is seen by the next.

**Bytes on the wire** are counted at the socket: the client connects through
\`test/helpers/WireTap.ts\`, a loopback TCP proxy that counts both directions
(WebSocket framing and the HTTP upgrade included), and counting goes on until
the connection has been quiet for 300 ms.

**The same documents.** A small document is a task \`{ title, done }\`
(W4 and W9: ten types of that shape). Cairn stores it in its envelope (type,
creator, creation time, version, deletion mark, data). A plain document holds
\`{ type, title, done }\`; its strings are plain JavaScript strings, which
Automerge 3 makes collaborative text, as an automerge-repo app gets by default.
automerge-repo cannot list what is in storage, so the plain app keeps an
index of ids (\`ids.json\`), as its users must; the index has ids only.

**Starting directories.** The directories of 1,000 and 10,000 documents that
W2–W5, W8 and W9 start from are made once per run and copied for every use.
Cairn's are made through its API by successive processes of 1,000 documents
each (one process creating 10,000 takes about five minutes; see W1 below);
plain's are written directly in the layout \`repo.create\` + \`repo.flush\`
produce (one snapshot file per document), for the same reason.

**When plain automerge-repo does not finish.** A plain sync that has had no
message and no document completed for 3 minutes, or has run 30 minutes, is
stopped and reported as "did not finish", with its time as a lower bound.

| | what is timed |
|---|---|
| W1 | Cairn: \`db.create\` × N issued together (group commit), until every promise resolved (on disk). Plain: \`repo.create\` × N, \`repo.flush()\`, the id index written. |
| W2 | An empty peer connects to a peer holding N documents; from \`connect\` until it holds all N on disk. Cairn: \`whenSynced\`. Plain: the source has every document loaded (automerge-repo announces only documents in memory) and announces all; the sink never calls \`find\` and is done when every document has the source's heads and is flushed. The sources stay up across repetitions; each repetition a new empty sink. |
| W3 | Both peers hold the same N documents (the sink got them by a full sync, then its process ended); the source changes 10; a new sink process opens the directory (timed separately) and connects; from \`connect\` until the 10 changes are on its disk. The source stays up; each repetition the sink starts from a copy of its post-sync directory and the source changes the same 10 documents once more. The byte target's reference is the Automerge sync messages that bring those 10 documents from the sink's state to the source's (fresh sync states, both directions). Plain: the source has every document loaded and announces all, so the sink loads and answers for all N. |
| W4 | A fresh process opens a directory of N documents of 10 types and lists the N/10 of one type. Cairn: \`NodePeer.open\` + \`db.list\`. Plain: open the repo, read the id index, \`find\` every document (batches of 500, faster than one \`Promise.all\`), keep those of the type. |
| W5 | A fresh process that has opened the directory loads all N documents. Cairn: \`db.list\` (load and materialize). Plain: \`find\` every id (batches of 500). The floor: \`Automerge.load\` over the very bytes each peer's storage holds for its documents (read through its storage adapter first, not timed), in its own fresh process. |
| W6 | 10,000 changes (flip a boolean) over 100 documents, issued together. Cairn: \`db.change\` with a typed draft, until every promise resolved (on disk). Plain: \`handle.change\`, then \`repo.flush()\`. |
| W7 | Two processes, one connected to the other's server; both type into the same text field at once (each appends a character every 5 ms, offset by half that), 5,000 keystrokes in all. Latency: from just before the change call to when the other peer's app sees the character (Cairn: a \`db.subscribe\` callback; plain: the handle's \`change\` event), on the monotonic clock both processes share. Both use automerge-repo's live per-document sync (a local change starts a sync at most every 100 ms per document; answers to the other peer's messages are not held back). |
| W8 | RSS after a full GC of a process holding N documents and serving them (Cairn: opened, documents on disk; plain: every document loaded, as it must to announce them), then with every document loaded. Disk: a fresh directory after creating M documents and closing, as allocated on the file system (what \`du\` counts), against the sum of \`Automerge.save\` of the documents. |
| W9 | A relay holds N documents of 10 types; an empty peer that wants one type connects; timed as W2. Compared with syncing the same N/10 documents (the same bytes: the first repetition's sink directory) from a peer holding only them. Plain automerge-repo has no subscriptions and its share policy sees only ids, so the plain relay is told the wanted type and decides from each document's content: it must load all N first (not counted in its time). |
| T1 | Real editing traces (\`../shared/data/editing-traces\`). Cairn: one \`db.change\` per transaction on a note's text field, 1,000 in flight, each acknowledged on disk; then the directory is opened again and \`db.get\` reads the note, against \`A.load\` of the same stored bytes. The second column is raw \`@automerge/automerge\` (\`A.change\` + \`A.splice\` on a document holding only the text; no repo, no disk). friendsforever: two writers, each on its own database (Cairn) or document (raw); the other writer's changes go across exactly when a transaction had seen them (Cairn: \`db.replica.ingest\`), and both must end at \`endContent\`. |

**PouchDB (the P workloads).** PouchDB 9 as its users run it: \`pouchdb-node\`
(LevelDB through \`leveldown\`'s prebuilt binary) on a data directory; the
server process serves it over HTTP with \`express-pouchdb\` 4.2 in its
minimal mode for PouchDB clients, which gzips responses (its \`compression\`
middleware); the client is \`pouchdb-node\` in its own process, replicating
through the same wire tap on loopback. Its documents are Cairn's, as a PouchDB
app stores them: \`{ type, title, done }\`, ids made by PouchDB. One change:
express-pouchdb's \`_changes\` route drops the Mango \`selector\` a client
POSTs (it passes \`doc_ids\` only, and the replication fails with "missing"),
so a route in front of it passes the selector on, as CouchDB takes it.
Cairn and PouchDB alternate in every P workload, as Cairn and plain do in
the W workloads; "Cairn ÷ PouchDB" is the ratio of the medians.

**Where the two differ.** Cairn acknowledges a write once it is on disk
(fsync); PouchDB's LevelDB writes without fsync (\`sync: false\`, LevelDB's
default): its "done" means handed to the OS, not on disk, and a power loss
can take the last writes. Every PouchDB time below has that advantage.
PouchDB's unfiltered sync is \`db.sync(remote)\` (both ways, one-shot),
done when it completes; Cairn's is \`whenSynced\` (both ways, on disk).

| | what is timed |
|---|---|
| P1 | A new process on an empty directory creates N tasks in steps of 1,000, one step after another, each timed: Cairn one \`db.transaction\` of 1,000 \`tx.create\` against PouchDB's \`bulkDocs\` of 1,000; and one by one, a step's creates in flight at once (\`db.create\` against \`db.post\`). A series stops after the step that passes 5 minutes (a lower bound). Then the directory as allocated on disk. |
| P2 | A new client process on an empty directory syncs N tasks from a server process that stays up across repetitions. From just before the client process is spawned (module loading and opening included) to the end of its sync, and from connect; the client's RSS after a full GC, then its directory as allocated on disk. |
| P3 | Both sides hold the same N documents (the client's by a full sync, then its process ended); the server changes 10; a new client process opens the client's directory and syncs. Each repetition reconnects the same client, its directory going on from the last (PouchDB keys checkpoints by both databases' ids, so copies of one directory would overwrite each other's checkpoint on the server), the server changing the same 10 documents again. PouchDB two ways, each its own client: \`db.sync\` (both ways; P2's client) and pull only (\`replicate.from\`; a client that pulled its first copy). A one-shot \`db.sync\` into an empty database leaves its push checkpoint at the start, so its first reconnect offers the server every document it pulled (a \`revs_diff\` of N). Timed as P2. |
| P9 | A server of N documents of 10 types (Cairn: a relay; PouchDB: the documents and a design document); a new client on an empty directory syncs the N/10 of one type. Cairn: \`wants: [type]\`. PouchDB, pull replication with a design-doc filter (\`filter: "app/byType"\`, the type as a query parameter) and with a Mango selector (\`selector: { type }\`), each its own side in the alternation. Timed as P2. |
`
