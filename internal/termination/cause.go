package termination

import "strings"

// CauseOf returns the Cause an Auto Scaling group's activity gives for
// terminating an instance (cloud.Instance.LeaveCause), from the cloud's
// words: "... taken out of service in response to a difference between
// desired and actual capacity ..." or "... to a user request ..." is a
// scale-in; "... to an instance refresh" an instance refresh; "... to an
// EC2 Spot Instance interruption notice" a spot interruption; a rebalancing
// activity or "... to an EC2 instance rebalance recommendation" (capacity
// rebalancing) a rebalance; a failed health check unhealthy. An activity
// may open with what changed the group ("At ... a user request explicitly
// set group desired capacity ..."), so only the words after "taken out of
// service" count when they are there. Anything else, and "", is
// CauseUnknown.
func CauseOf(activityCause string) Cause {
	text := strings.ToLower(activityCause)
	const out = "taken out of service"
	if i := strings.LastIndex(text, out); i >= 0 {
		text = text[i+len(out):]
	}
	for _, r := range causeWords {
		if strings.Contains(text, r.words) {
			return r.cause
		}
	}
	return CauseUnknown
}

// causeWords are the words of an activity's cause that name a Cause, the
// most specific first.
var causeWords = []struct {
	words string
	cause Cause
}{
	{"instance refresh", CauseInstanceRefresh},
	{"spot instance interruption", CauseSpotInterruption},
	{"rebalanc", CauseRebalance},
	{"health check", CauseUnhealthy},
	{"health-check", CauseUnhealthy},
	{"difference between desired and actual capacity", CauseScaleIn},
	{"shrinking the capacity", CauseScaleIn},
	{"user request", CauseScaleIn},
	{"scale in", CauseScaleIn},
	{"scale-in", CauseScaleIn},
}
