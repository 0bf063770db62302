package localcloud

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

type traceRT struct{ t *testing.T }

func (d traceRT) RoundTrip(r *http.Request) (*http.Response, error) {
	tr := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err != nil {
			d.t.Logf("wrote request error: %v (content-length %d)", i.Err, r.ContentLength)
		}
	}}
	r = r.WithContext(httptrace.WithClientTrace(r.Context(), tr))
	return http.DefaultTransport.RoundTrip(r)
}

func TestDebugTypes(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var log []string
	srv := httptest.NewUnstartedServer(e.cloud)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		log = append(log, c.RemoteAddr().String()+" "+s.String())
		mu.Unlock()
	}
	srv.Start()
	defer srv.Close()
	cfg := aws.Config{Region: "us-east-1", RetryMaxAttempts: 1, HTTPClient: &http.Client{Transport: traceRT{t}},
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")}
	c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	for i := 0; i < 30; i++ {
		pager := ec2.NewDescribeInstanceTypesPaginator(c, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(5)})
		for pager.HasMorePages() {
			if _, err := pager.NextPage(ctx); err != nil {
				t.Log("page", i, err)
				mu.Lock()
				t.Log(log[max(0, len(log)-8):])
				mu.Unlock()
			}
		}
		_, err := c.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{
			Filters: []ec2types.Filter{{Name: aws.String("processor-info.supported-architecture"), Values: []string{"arm64"}}}})
		if err != nil {
			t.Log("filtered", i, err)
			mu.Lock()
			t.Log(log[max(0, len(log)-10):])
			mu.Unlock()
			return
		}
	}
}
