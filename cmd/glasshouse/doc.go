// Command glasshouse is the whole platform in one binary: `serve` runs it
// (flags.go holds the flags, main.go wires the parts in order), `demo`
// seeds a local world first (demo.go), `partner` and `operator` are the
// operator's commands on the data folder, `audit verify|report|trail`
// check a server's transparency log from outside, `bench` measures
// messaging over HTTP, and `version` prints the version. Run
// `glasshouse --help` for the list and `glasshouse COMMAND --help` for a
// command's flags.
package main
