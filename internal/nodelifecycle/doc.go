// Package nodelifecycle deletes the Node objects of instances the cloud
// has terminated or no longer knows, and leaves Nodes the cloud never saw
// (no aws:/// providerID) alone, reporting them once.
//
// [Decide] is the pure core: it takes a Node and what the cloud says of
// its instance ([InstanceStatus]) and returns an [Action] with its reason
// and message. The [Controller] gathers those facts once per period (one
// bulk read of the managed groups, single lookups for anything else),
// calls Decide for every Node and acts: it deletes the Node (only the one
// it looked at, by UID), emits the Event and counts the deletion.
package nodelifecycle
