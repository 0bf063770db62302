package testenv

import "k8s.io/client-go/tools/record"

// RecordedEvents drains a fake recorder: every event it holds now, oldest
// first, each as the recorder writes it ("Normal Reason message").
func RecordedEvents(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}
