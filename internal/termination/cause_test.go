package termination

import "testing"

func TestCauseOf(t *testing.T) {
	for _, tc := range []struct {
		name, activity string
		want           Cause
	}{
		{"empty", "", CauseUnknown},
		// The local cloud's words (internal/localcloud).
		{"local: a lower desired count", "At 2026-12-06T12:00:00Z a user request explicitly set group desired capacity changing the desired capacity from 3 to 1.  " +
			"At 2026-12-06T12:00:01Z an instance was taken out of service in response to a difference between desired and actual capacity, " +
			"shrinking the capacity from 3 to 1.  At 2026-12-06T12:00:01Z instance i-0001 was selected for termination.", CauseScaleIn},
		{"local: terminate in group", "At 2026-12-06T12:00:00Z instance i-0001 was taken out of service in response to a user request, shrinking the capacity from 3 to 2.", CauseScaleIn},
		{"local: terminate in group, capacity kept", "At 2026-12-06T12:00:00Z instance i-0001 was taken out of service in response to a user request.", CauseScaleIn},
		{"local: instance refresh", "At 2026-12-06T12:00:00Z an instance was taken out of service in response to an instance refresh (abc).  At 2026-12-06T12:00:00Z instance i-0001 was selected for termination.", CauseInstanceRefresh},
		{"local: spot interruption", "At 2026-12-06T12:00:00Z an instance was taken out of service in response to an EC2 Spot Instance interruption notice.", CauseSpotInterruption},
		{"local: EC2 health check", "At 2026-12-06T12:00:00Z an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.", CauseUnhealthy},
		{"local: launch hook abandoned", "At 2026-12-06T12:00:00Z instance i-0001 was taken out of service: its launch lifecycle action was abandoned.", CauseUnknown},
		// AWS's documented words.
		{"aws: scale-in policy", "At 2016-05-08T13:55:14Z a monitor alarm My-Scale-Down-Alarm in state ALARM triggered policy Decrease Group Size changing the desired capacity from 4 to 3.  " +
			"At 2016-05-08T13:55:25Z an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from 4 to 3.", CauseScaleIn},
		{"aws: AZ rebalance", "At 2023-01-01T00:00:00Z an instance was taken out of service in response to a rebalancing activity.", CauseRebalance},
		{"aws: capacity rebalancing", "At 2023-01-01T00:00:00Z an instance was taken out of service in response to an EC2 instance rebalance recommendation.", CauseRebalance},
		{"aws: ELB health check", "At 2023-01-01T00:00:00Z an instance was taken out of service in response to an ELB system health check failure.", CauseUnhealthy},
		{"aws: refresh, the group opened by a user request", "At 2023-01-01T00:00:00Z a user request started an instance refresh.  At 2023-01-01T00:00:05Z an instance was taken out of service in response to an instance refresh.", CauseInstanceRefresh},
		{"words without the phrase", "instance refresh replaced it", CauseInstanceRefresh},
		{"unknown words", "At 2023-01-01T00:00:00Z an instance was taken out of service in response to a maximum instance lifetime policy.", CauseUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CauseOf(tc.activity); got != tc.want {
				t.Errorf("CauseOf(%q) = %s, want %s", tc.activity, got, tc.want)
			}
		})
	}
}
