// Package analysis is the causality core of Raceway for OpenTelemetry: it
// rebuilds the happens-before graph of many traces and services from Raceway
// events and reports data races between them.
//
// The package imports only the standard library and knows nothing about
// OpenTelemetry: drivers (the collector processor, tests, tools) decode their
// own input into [Event] values and feed a [Detector].
//
// # Causality model
//
// Every recorded event belongs to a logical thread (an HTTP handler
// invocation, a goroutine, a worker job) and carries an [Epoch], thread@n,
// where n counts the thread's events from 1. Happens-before edges are:
//
//   - program order: thread@n-1 → thread@n;
//   - explicit edges: every epoch in [Event.After] happens before the event
//     (spawn → child start, child end → await, RPC send → handler start,
//     handler respond → caller's response, lock strand → acquire);
//   - synchronisation strands: an event with [Event.Sync] set publishes the
//     next epoch of a strand (a lock's release sequence), which happens after
//     the event and after the strand's previous epoch.
//
// Locks are thus real release→acquire edges, as in TSan: a mutex is one
// strand; a read/write lock is two (writer releases, reader releases), readers
// acquire after the writer strand and writers after both.
//
// Shared locks (a database row lock, a Redis SET NX lock, an advisory lock:
// see [Event.LockShared]) serialise several processes but give no edge: no
// process sees the others' releases. Accesses name the shared locks they
// hold ([Event.SharedLocks], [Event.SharedRLocks]), and two accesses of
// which one holds a name exclusively and the other in either mode are never
// reported against each other. A shared-lock acquire may also carry the
// previous release's epoch in After, when the lock's store carried it: an
// ordinary, exact edge.
//
// On the wire only one epoch travels (see [MaxEpochTextLen]): the sender's.
// The [Detector] rebuilds vector clocks from the edges, so the size of what
// travels does not grow with chain length or fan-out and no precision is lost.
//
// # Detection
//
// The [Detector] buffers events until their predecessors have been analysed
// (or a wait time has passed), so that it analyses them in an order
// consistent with happens-before whatever their arrival order. Per variable
// it keeps FastTrack state (the last write, the last read or the concurrent
// reads), so that the common case costs O(1) per access, plus every access
// no later one supersedes and a short history, so that every racing pair is
// reported, once. Every structure is bounded (variables, history, threads,
// clock entries, pending events) with the least recently used evicted first
// and every eviction counted in [Stats]; a bound can hide a race, never
// invent one.
//
// The design, its approximations and what each may hide are in the
// repository's docs/design.md.
package analysis
