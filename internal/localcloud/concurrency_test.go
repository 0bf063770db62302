package localcloud

import (
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// TestConcurrentClients drives the cloud from many clients at once; run
// with -race.
func TestConcurrentClients(t *testing.T) {
	e := newEnv(t)
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			name := fmt.Sprintf("worker-%d", w)
			lt, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(name),
				LaunchTemplateData: e.templateData("m5.large")})
			if err != nil {
				errs <- fmt.Errorf("%s: create template: %w", name, err)
				return
			}
			if _, err := e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String(name),
				LaunchTemplate: templateSpecOf(aws.ToString(lt.LaunchTemplate.LaunchTemplateId)), MinSize: aws.Int32(0), MaxSize: aws.Int32(4),
				AvailabilityZones: []string{"us-east-1a", "us-east-1b", "us-east-1c"}}); err != nil {
				errs <- fmt.Errorf("%s: create group: %w", name, err)
				return
			}
			for _, n := range []int32{3, 1, 2} {
				if _, err := e.as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(name),
					DesiredCapacity: aws.Int32(n)}); err != nil {
					errs <- fmt.Errorf("%s: set desired %d: %w", name, n, err)
					return
				}
				if _, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
					errs <- fmt.Errorf("%s: describe instances: %w", name, err)
					return
				}
				if _, err := e.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{}); err != nil {
					errs <- fmt.Errorf("%s: describe groups: %w", name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range workers {
		e.waitSettled(fmt.Sprintf("worker-%d", w), 2)
	}
}
