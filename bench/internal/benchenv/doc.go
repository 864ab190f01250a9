// Package benchenv is what bench's programs (cmd/peerbench and
// cmd/loadtest) share about the place they run in and how they report it:
// the machine's description, a throwaway Postgres database, the
// command-line scaffolding and the markdown page's delivery.
//
// Each program keeps what only it does (peerbench's shared Redis and
// child servers, loadtest's private redis-server and quotad instances);
// this package holds only logic both use the same way, so that a fix to
// it reaches both reports.
package benchenv
