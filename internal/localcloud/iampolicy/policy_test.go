package iampolicy

import (
	"strings"
	"testing"
)

const testPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": ["ec2:Describe*", "autoscaling:DescribeAutoScalingGroups"], "Resource": "*"},
    {"Sid": "Owned", "Effect": "Allow",
     "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:UpdateAutoScalingGroup"],
     "Resource": "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:*:autoScalingGroupName/kelp-prod-*",
     "Condition": {"StringEquals": {"autoscaling:ResourceTag/kubernetes.io/cluster/prod": "owned"}}},
    {"Sid": "Create", "Effect": "Allow", "Action": "ec2:CreateLaunchTemplate", "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestTag/kubernetes.io/cluster/prod": "owned"},
                   "ForAllValues:StringLike": {"aws:TagKeys": ["kubernetes.io/*", "kelp.dev/*"]}}},
    {"Sid": "TagOnlyUntagged", "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
     "Condition": {"Null": {"aws:ResourceTag/kubernetes.io/cluster/prod": "true"}}},
    {"Sid": "AnyTeam", "Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:us-east-1:000000000000:q?",
     "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}},
    {"Sid": "NotProd", "Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:events:*:*:rule/*",
     "Condition": {"StringNotEqualsIfExists": {"aws:ResourceTag/env": "prod"}}},
    {"Sid": "NeverDelete", "Effect": "Deny", "Action": "autoscaling:Delete*", "NotResource": "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/scratch-*"},
    {"Sid": "DeleteAny", "Effect": "Allow", "Action": "autoscaling:DeleteAutoScalingGroup", "Resource": "*"}
  ]
}`

const groupARN = "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1234:autoScalingGroupName/"

func TestEvaluate(t *testing.T) {
	p, err := Parse("test", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	owned := map[string][]string{"aws:ResourceTag/kubernetes.io/cluster/prod": {"owned"}}
	tests := []struct {
		name string
		r    Request
		want Decision
	}{
		{"wildcard action", Request{Action: "ec2:DescribeInstances", Resource: "*"}, Allow},
		{"action case ignored", Request{Action: "EC2:describeinstances", Resource: "*"}, Allow},
		{"action not listed", Request{Action: "ec2:RunInstances", Resource: "*"}, ImplicitDeny},
		{"resource tag matches", Request{Action: "autoscaling:SetDesiredCapacity", Resource: groupARN + "kelp-prod-a",
			Context: map[string][]string{"autoscaling:ResourceTag/kubernetes.io/cluster/prod": {"owned"}}}, Allow},
		{"condition key case ignored", Request{Action: "autoscaling:SetDesiredCapacity", Resource: groupARN + "kelp-prod-a",
			Context: map[string][]string{"AUTOSCALING:resourcetag/kubernetes.io/cluster/prod": {"owned"}}}, Allow},
		{"resource tag wrong value", Request{Action: "autoscaling:SetDesiredCapacity", Resource: groupARN + "kelp-prod-a",
			Context: map[string][]string{"autoscaling:ResourceTag/kubernetes.io/cluster/prod": {"shared"}}}, ImplicitDeny},
		{"resource tag missing", Request{Action: "autoscaling:SetDesiredCapacity", Resource: groupARN + "kelp-prod-a"}, ImplicitDeny},
		{"resource outside the pattern", Request{Action: "autoscaling:SetDesiredCapacity", Resource: groupARN + "other",
			Context: map[string][]string{"autoscaling:ResourceTag/kubernetes.io/cluster/prod": {"owned"}}}, ImplicitDeny},
		{"request tags and tag keys", Request{Action: "ec2:CreateLaunchTemplate", Resource: "*",
			Context: map[string][]string{"aws:RequestTag/kubernetes.io/cluster/prod": {"owned"},
				"aws:TagKeys": {"kubernetes.io/cluster/prod", "kelp.dev/pool"}}}, Allow},
		{"a tag key outside ForAllValues", Request{Action: "ec2:CreateLaunchTemplate", Resource: "*",
			Context: map[string][]string{"aws:RequestTag/kubernetes.io/cluster/prod": {"owned"},
				"aws:TagKeys": {"kubernetes.io/cluster/prod", "team"}}}, ImplicitDeny},
		{"request tag missing", Request{Action: "ec2:CreateLaunchTemplate", Resource: "*",
			Context: map[string][]string{"aws:TagKeys": {"kelp.dev/pool"}}}, ImplicitDeny},
		{"Null true: tag absent", Request{Action: "ec2:CreateTags", Resource: "*"}, Allow},
		{"Null true: tag present", Request{Action: "ec2:CreateTags", Resource: "*", Context: owned}, ImplicitDeny},
		{"ForAnyValue hit", Request{Action: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:000000000000:q1",
			Context: map[string][]string{"aws:TagKeys": {"env", "team"}}}, Allow},
		{"ForAnyValue missing key", Request{Action: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:000000000000:q1"}, ImplicitDeny},
		{"? matches one character only", Request{Action: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:000000000000:q12",
			Context: map[string][]string{"aws:TagKeys": {"team"}}}, ImplicitDeny},
		{"NotAction and IfExists absent", Request{Action: "events:PutRule", Resource: "arn:aws:events:us-east-1:0:rule/r"}, Allow},
		{"NotAction and IfExists other", Request{Action: "events:PutRule", Resource: "arn:aws:events:us-east-1:0:rule/r",
			Context: map[string][]string{"aws:ResourceTag/env": {"dev"}}}, Allow},
		{"StringNotEquals refuses", Request{Action: "events:PutRule", Resource: "arn:aws:events:us-east-1:0:rule/r",
			Context: map[string][]string{"aws:ResourceTag/env": {"prod"}}}, ImplicitDeny},
		{"NotAction excludes", Request{Action: "iam:PassRole", Resource: "arn:aws:events:us-east-1:0:rule/r"}, ImplicitDeny},
		{"deny wins over allow", Request{Action: "autoscaling:DeleteAutoScalingGroup", Resource: groupARN + "kelp-prod-a"}, ExplicitDeny},
		{"NotResource lets the allow through", Request{Action: "autoscaling:DeleteAutoScalingGroup", Resource: groupARN + "scratch-1"}, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Evaluate([]*Policy{p}, tt.r); got != tt.want {
				t.Errorf("Evaluate(%+v) = %v, want %v", tt.r, got, tt.want)
			}
		})
	}
	if got := Evaluate(nil, Request{Action: "ec2:DescribeInstances", Resource: "*"}); got != ImplicitDeny {
		t.Errorf("no policy: %v, want ImplicitDeny", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		wants     []string
	}{
		{"version", `{"Version":"2008-10-17","Statement":[]}`, []string{`Version "2008-10-17"`}},
		{"no statement", `{"Version":"2012-10-17"}`, []string{"no Statement"}},
		{"unknown field", `{"Version":"2012-10-17","Statment":[]}`, []string{"Statment"}},
		{"every mistake at once", `{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Permit","Action":"a:b","NotAction":"a:c",
			"Condition":{"StringMatches":{"k":"v"},"Foo:StringEquals":{"k":"v"},"Null":{"k":"maybe"}}}]}`,
			[]string{"statement 1 (S)", `Effect "Permit"`, "exactly one of Action and NotAction", "exactly one of Resource and NotResource",
				`"StringMatches" is not supported`, `unknown qualifier "Foo"`, "Null on k"}},
		{"principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*"}}`,
			[]string{"Principal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.json", []byte(tt.doc))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			for _, w := range append(tt.wants, "policy p.json") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseOneStatementAndScalars(t *testing.T) {
	p, err := Parse("one", []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*",
		"Condition":{"Bool":{"aws:SecureTransport":true}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	r := Request{Action: "s3:GetObject", Resource: "*", Context: map[string][]string{"aws:SecureTransport": {"true"}}}
	if got := Evaluate([]*Policy{p}, r); got != Allow {
		t.Errorf("got %v, want Allow", got)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "arn:aws:ec2:x:y:launch-template/lt-1", true},
		{"arn:aws:ec2:*:*:launch-template/*", "arn:aws:ec2:us-east-1:0:launch-template/lt-1", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"abc", "abcd", false},
		{"*-prod-*", "kelp-prod-a", true},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.s, false); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
