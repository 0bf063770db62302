package aws

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// This file is the one place where AWS error codes and scaling activity
// messages become cloud's sentinel errors.

// codeKinds maps AWS API error codes to sentinels. ValidationError, Auto
// Scaling's catch-all, is told apart by its message (validationKind).
var codeKinds = map[string]error{
	// Throttling (Auto Scaling, EC2, and the SDK's other spellings).
	"Throttling":                cloud.ErrThrottled,
	"ThrottlingException":       cloud.ErrThrottled,
	"RequestLimitExceeded":      cloud.ErrThrottled,
	"RequestThrottled":          cloud.ErrThrottled,
	"RequestThrottledException": cloud.ErrThrottled,
	"EC2ThrottledException":     cloud.ErrThrottled,
	"TooManyRequestsException":  cloud.ErrThrottled,

	// Things that do not exist.
	"InvalidInstanceID.NotFound":                  cloud.ErrNotFound,
	"InvalidInstanceID.Malformed":                 cloud.ErrNotFound,
	"InvalidLaunchTemplateId.NotFound":            cloud.ErrNotFound,
	"InvalidLaunchTemplateId.Malformed":           cloud.ErrNotFound,
	"InvalidLaunchTemplateId.VersionNotFound":     cloud.ErrNotFound,
	"InvalidLaunchTemplateName.NotFoundException": cloud.ErrNotFound,
	"InvalidAMIID.NotFound":                       cloud.ErrNotFound,
	"InvalidInstanceType":                         cloud.ErrNotFound,
	"NoSuchEntity":                                cloud.ErrNotFound, // IAM

	// Names that are taken (the pool provisioner's creates).
	"AlreadyExists": pool.ErrExists,
	"InvalidLaunchTemplateName.AlreadyExistsException": pool.ErrExists,

	// Capacity and quotas (RunInstances codes, also seen in activities).
	"InsufficientInstanceCapacity":         cloud.ErrInsufficientCapacity,
	"InsufficientCapacity":                 cloud.ErrInsufficientCapacity,
	"InsufficientHostCapacity":             cloud.ErrInsufficientCapacity,
	"InsufficientReservedInstanceCapacity": cloud.ErrInsufficientCapacity,
	"UnfulfillableCapacity":                cloud.ErrInsufficientCapacity,
	"SpotMaxPriceTooLow":                   cloud.ErrInsufficientCapacity,
	"VcpuLimitExceeded":                    cloud.ErrQuotaExceeded,
	"InstanceLimitExceeded":                cloud.ErrQuotaExceeded,
	"MaxSpotInstanceCountExceeded":         cloud.ErrQuotaExceeded,

	// Instance refresh: one at a time per group (kelp pool roll).
	"InstanceRefreshInProgress":     cloud.ErrRefreshInProgress,
	"ActiveInstanceRefreshNotFound": cloud.ErrNoActiveRefresh,

	// Operations the endpoint does not implement (an AWS-compatible one):
	// the query protocols' and JSON 1.0's codes.
	"InvalidAction":             cloud.ErrUnsupported,
	"UnknownOperationException": cloud.ErrUnsupported,
}

// validationKind classifies an Auto Scaling ValidationError by its message.
func validationKind(msg string) error {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "not found"),
		// Lifecycle actions and hooks: "No active Lifecycle Action found
		// with instance ID i-...", "No Lifecycle Hook found ...".
		strings.HasPrefix(m, "no active lifecycle action"), strings.HasPrefix(m, "no lifecycle hook"):
		return cloud.ErrNotFound
	case strings.Contains(m, "above max"), strings.Contains(m, "below min"),
		strings.Contains(m, "min size"), strings.Contains(m, "minsize"):
		return cloud.ErrOutOfRange
	}
	return nil
}

// kindError keeps the SDK's error (and its message) while matching a
// sentinel with errors.Is.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// classify returns err matching the sentinel its AWS error code maps to
// (unchanged when none does, or when it already matches one).
func classify(err error) error {
	var ke *kindError
	if err == nil || errors.As(err, &ke) {
		return err
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err
	}
	kind := codeKinds[ae.ErrorCode()]
	if ae.ErrorCode() == "ValidationError" {
		kind = validationKind(ae.ErrorMessage())
	}
	if kind == nil {
		return err
	}
	return &kindError{kind: kind, err: err}
}

// errorCode returns the AWS error code of err, "" if it has none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

var (
	// knownCodePattern finds a code of codeKinds anywhere in an activity's
	// status message ("Could not launch Spot Instances.
	// InsufficientInstanceCapacity - ...").
	knownCodePattern = regexp.MustCompile(`\b(` + strings.Join(activityCodes(), "|") + `)\b`)
	// leadingCodePattern is a code at the start ("InvalidAMIID.NotFound: ...").
	leadingCodePattern = regexp.MustCompile(`^([A-Z][A-Za-z0-9]+(?:\.[A-Za-z0-9]+)*)(?::| -) `)
	// typeZonePatterns find the instance type and zone in EC2's capacity
	// messages.
	sufficientPattern = regexp.MustCompile(`sufficient ([a-z0-9-]+\.[a-z0-9-]+) capacity`)
	requestedAZ       = regexp.MustCompile(`Availability Zone you requested \(([a-z]{2}-[a-z-]+-[0-9][a-z])\)`)
	typeInZone        = regexp.MustCompile(`\(([a-z0-9-]+\.[a-z0-9-]+) in ([a-z]{2}-[a-z-]+-[0-9][a-z])\)`)
)

// activityCodes are the capacity and quota codes searched for in
// activity messages.
func activityCodes() []string {
	var out []string
	for code, kind := range codeKinds {
		if kind == cloud.ErrInsufficientCapacity || kind == cloud.ErrQuotaExceeded {
			out = append(out, regexp.QuoteMeta(code))
		}
	}
	return out
}

// isLaunchActivity reports whether a scaling activity launched (or tried to
// launch) an instance.
func isLaunchActivity(a astypes.Activity) bool {
	return strings.HasPrefix(sdkaws.ToString(a.Description), "Launching a new EC2 instance")
}

// activityError turns a Failed launch activity into a group error: capacity
// codes (or EC2's "no capacity" wording) are ErrInsufficientCapacity,
// quotas ErrQuotaExceeded, anything else ErrLaunchFailed. The instance type
// and zone come from the message, the zone also from the details.
func activityError(group string, a astypes.Activity) cloud.GroupError {
	msg := strings.TrimSpace(sdkaws.ToString(a.StatusMessage))
	if msg == "" {
		msg = strings.TrimSpace(sdkaws.ToString(a.Description))
	}
	ge := cloud.GroupError{Err: cloud.ErrLaunchFailed, Group: group, Message: msg,
		ActivityID: sdkaws.ToString(a.ActivityId), Time: sdkaws.ToTime(a.StartTime)}
	if m := knownCodePattern.FindStringSubmatch(msg); m != nil {
		ge.Code, ge.Err = m[1], codeKinds[m[1]]
	} else if m := leadingCodePattern.FindStringSubmatch(msg); m != nil {
		ge.Code = m[1]
	}
	lower := strings.ToLower(msg)
	if ge.Code == "" && (strings.Contains(lower, "do not have sufficient") || strings.Contains(lower, "no spot capacity")) {
		ge.Code, ge.Err = "InsufficientInstanceCapacity", cloud.ErrInsufficientCapacity
	}
	if m := sufficientPattern.FindStringSubmatch(msg); m != nil {
		ge.InstanceType = m[1]
	}
	if m := requestedAZ.FindStringSubmatch(msg); m != nil {
		ge.AvailabilityZone = m[1]
	}
	if m := typeInZone.FindStringSubmatch(msg); m != nil {
		ge.InstanceType, ge.AvailabilityZone = m[1], m[2]
	}
	if ge.AvailabilityZone == "" {
		var details struct {
			Zone string `json:"Availability Zone"`
		}
		if json.Unmarshal([]byte(sdkaws.ToString(a.Details)), &details) == nil {
			ge.AvailabilityZone = details.Zone
		}
	}
	return ge
}
