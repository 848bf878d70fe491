// Package agentorg holds the domain of an AI engineering organization run over
// a git repository: issues, labels, merge requests, check results, and the
// interfaces the engine depends on (Tracker, Agent).
//
// The package imports no adapter. Adapters live in packages named after what
// they talk to (tracker/embedded, agent/command, ...) and import this one;
// cmd/agentorg wires them together.
package agentorg
