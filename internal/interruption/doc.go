// Package interruption owns kelp's interruption queue on AWS: the SQS
// queue that EventBridge fills with the events announcing that an instance
// goes (spot interruption warnings, rebalance recommendations, Auto
// Scaling terminate lifecycle actions, EC2 state changes, AWS Health
// scheduled changes), how it is set up (EnsureQueue: the queue, its policy
// for events.amazonaws.com, one EventBridge rule per kind of event) and
// torn down (DeleteQueue), how an event reads as termination.Notices
// (Parse, pure), and the consumer (Queue) that long-polls the queue and
// hands every Notice to a handler, deleting a message once it is handled.
//
// It speaks SQS and EventBridge through aws-sdk-go-v2 clients behind the
// narrow interfaces SQSAPI, SQSAdminAPI and EventBridgeAPI; the composition
// roots build those clients from internal/cloud/aws's one SDK config
// loader. What a Notice means for a Node is internal/terminationctl's.
package interruption
