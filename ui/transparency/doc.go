// Package transparency serves the pages a person reads about the public
// transparency log. At /log: its size, root hash and origin from the
// latest signed checkpoint, the verifier key, the latest entries decoded
// (accesses: partner, endpoint, scopes, decision, time; agreement changes:
// partner, version, action, scopes), and how to check it all with
// `glasshouse audit verify` (the commands filled in with the site's URL
// and key, to copy). At /partners: the public partner directory
// (glasshouse.Directory), every approved agreement version with its terms
// and the log index of each change.
//
// The page reads the log as the machines' routes serve it (package
// accesslog's /log/checkpoint, /log/tile/..., /log/key), which stay as
// they are: C2SP formats for verifiers. It vouches for nothing itself: the
// checkpoint's signature is checked when it is read, and the command is
// how a reader checks the rest without trusting this server.
package transparency
