package iampolicy_test

import (
	"fmt"

	"github.com/kelp-dev/kelp/internal/localcloud/iampolicy"
)

// The caller parses a principal's policies once, then, for each request,
// resolves what it touches (the resource's ARN and tags, the tags the
// request puts) into a Request and asks Evaluate.
func Example() {
	p, err := iampolicy.Parse("scale-owned", []byte(`{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Effect": "Allow",
	    "Action": "autoscaling:SetDesiredCapacity",
	    "Resource": "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*",
	    "Condition": {"StringEquals": {"autoscaling:ResourceTag/kubernetes.io/cluster/prod": "owned"}}
	  }]
	}`))
	if err != nil {
		panic(err)
	}
	group := "arn:aws:autoscaling:us-east-1:111122223333:autoScalingGroup:0c1d:autoScalingGroupName/workers"
	for _, tags := range []map[string][]string{
		{"autoscaling:ResourceTag/kubernetes.io/cluster/prod": {"owned"}},
		{"autoscaling:ResourceTag/kubernetes.io/cluster/test": {"owned"}},
	} {
		d := iampolicy.Evaluate([]*iampolicy.Policy{p}, iampolicy.Request{
			Action: "autoscaling:SetDesiredCapacity", Resource: group, Context: tags})
		fmt.Println(d)
	}
	// Output:
	// Allow
	// ImplicitDeny
}
