package webview

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestReviewsOfNewTokensAreLimited: a flood of made-up tokens gets 429
// once the review budget is spent, so it cannot spend the controller's
// API budget on TokenReviews; a token reviewed before is still answered
// from its verdict, and the budget refills with time.
func TestReviewsOfNewTokensAreLimited(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "tokenreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &authenticationv1.TokenReview{}, nil // not authenticated
	})
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	a := newAuthorizer(client, clk)
	codes := map[int]int{}
	for i := range reviewBurst + 30 {
		codes[a.check(context.Background(), fmt.Sprintf("made-up-%d", i)).code]++
	}
	if codes[http.StatusUnauthorized] != reviewBurst || codes[http.StatusTooManyRequests] != 30 {
		t.Fatalf("verdicts %v, want %d reviewed (401) and 30 refused unreviewed (429)", codes, reviewBurst)
	}
	reviews := 0
	for _, act := range client.Actions() {
		if act.GetVerb() == "create" && act.GetResource().Resource == "tokenreviews" {
			reviews++
		}
	}
	if reviews != reviewBurst {
		t.Fatalf("%d TokenReviews sent, want %d", reviews, reviewBurst)
	}
	if v := a.check(context.Background(), "made-up-0"); v.code != http.StatusUnauthorized {
		t.Fatalf("a token reviewed before: %d, want its remembered 401", v.code)
	}
	clk.Step(time.Second)
	if v := a.check(context.Background(), "made-up-999"); v.code != http.StatusUnauthorized {
		t.Fatalf("after a second: %d, want a review (401)", v.code)
	}
}
