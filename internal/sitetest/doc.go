// Package sitetest starts the member web as cmd/glasshouse wires it, for
// the tests of the page packages (ui/messenger, ui/portal, ui/privacy,
// ui/transparency): the member API (web.Server) on a SQLite store in a
// temporary folder with a real hub, a real sign-in service and the pages'
// kit (ui.Kit), and, where a test asks for it, a real transparency log (a
// Tessera log fed by a real Feeder, access records made by a real
// Recorder). Each test package mounts its own pages on it with Start.
package sitetest
