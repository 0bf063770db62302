package localcloud

import (
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/catalog"
)

func TestDescribeInstanceTypes(t *testing.T) {
	e := newEnv(t)
	var all []ec2types.InstanceTypeInfo
	pager := ec2.NewDescribeInstanceTypesPaginator(e.ec2, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(5)})
	for pager.HasMorePages() {
		all = append(all, must[*ec2.DescribeInstanceTypesOutput](t)(pager.NextPage(ctx)).InstanceTypes...)
	}
	if len(all) != len(catalog.All()) {
		t.Fatalf("%d instance types, catalog has %d", len(all), len(catalog.All()))
	}
	for _, it := range all {
		c, err := catalog.Lookup(string(it.InstanceType))
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(it.VCpuInfo.DefaultVCpus) != int32(c.VCPUs) || aws.ToInt64(it.MemoryInfo.SizeInMiB) != c.MemoryMiB ||
			aws.ToInt32(it.NetworkInfo.MaximumNetworkInterfaces) != int32(c.MaxENIs) ||
			aws.ToInt32(it.NetworkInfo.Ipv4AddressesPerInterface) != int32(c.IPv4PerENI) ||
			string(it.ProcessorInfo.SupportedArchitectures[0]) != string(c.Architecture) {
			t.Errorf("%s: %+v differs from the catalog %+v", c.Name, it, c)
		}
		if c.GPU.Count > 0 && (it.GpuInfo == nil || aws.ToInt32(it.GpuInfo.Gpus[0].Count) != int32(c.GPU.Count) ||
			aws.ToString(it.GpuInfo.Gpus[0].Manufacturer) != catalog.ManufacturerNVIDIA) {
			t.Errorf("%s: gpu info %+v", c.Name, it.GpuInfo)
		}
	}
	arm := must[*ec2.DescribeInstanceTypesOutput](t)(e.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{
		Filters: []ec2types.Filter{{Name: aws.String("processor-info.supported-architecture"), Values: []string{"arm64"}},
			{Name: aws.String("instance-type"), Values: []string{"m*"}}}}))
	for _, it := range arm.InstanceTypes {
		if it.ProcessorInfo.SupportedArchitectures[0] != ec2types.ArchitectureTypeArm64 || it.InstanceType[0] != 'm' {
			t.Errorf("filtered: %s", it.InstanceType)
		}
	}
	if len(arm.InstanceTypes) == 0 {
		t.Error("no arm64 m* types")
	}
	_, err := e.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{"m5.huge"}})
	wantCode(t, err, codeInvalidInstanceType)
}

func TestDescribeSpotPriceHistory(t *testing.T) {
	e := newEnv(t)
	out := must[*ec2.DescribeSpotPriceHistoryOutput](t)(e.ec2.DescribeSpotPriceHistory(ctx, &ec2.DescribeSpotPriceHistoryInput{
		InstanceTypes: []ec2types.InstanceType{"m5.large"}, ProductDescriptions: []string{"Linux/UNIX"}}))
	if len(out.SpotPriceHistory) != 3 {
		t.Fatalf("%d prices, want one per zone", len(out.SpotPriceHistory))
	}
	regional, _ := catalog.Price("m5.large", catalog.CapacityTypeSpot)
	for _, p := range out.SpotPriceHistory {
		price, err := strconv.ParseFloat(aws.ToString(p.SpotPrice), 64)
		if err != nil || price < regional*0.949 || price > regional*1.051 || p.ProductDescription != ec2types.RIProductDescriptionLinuxUnix ||
			p.Timestamp == nil {
			t.Errorf("price %+v (regional %v)", p, regional)
		}
	}
	one := must[*ec2.DescribeSpotPriceHistoryOutput](t)(e.ec2.DescribeSpotPriceHistory(ctx, &ec2.DescribeSpotPriceHistoryInput{
		AvailabilityZone: aws.String("us-east-1b"), MaxResults: aws.Int32(1000)}))
	if len(one.SpotPriceHistory) != len(catalog.All()) {
		t.Fatalf("us-east-1b: %d prices, want %d", len(one.SpotPriceHistory), len(catalog.All()))
	}
}

func TestDescribeSubnetsAndZones(t *testing.T) {
	e := newEnv(t)
	subnets := must[*ec2.DescribeSubnetsOutput](t)(e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{}))
	want := map[string]string{"us-east-1a": "127.1.0.0/16", "us-east-1b": "127.2.0.0/16", "us-east-1c": "127.3.0.0/16"}
	if len(subnets.Subnets) != 6 {
		t.Fatalf("subnets %+v", subnets.Subnets)
	}
	// Per zone: the default subnet of the groups' VPC, then the peer VPC's
	// with the same CIDR.
	vpc, peer := aws.ToString(subnets.Subnets[0].VpcId), aws.ToString(subnets.Subnets[1].VpcId)
	for i, s := range subnets.Subnets {
		wantVPC := map[bool]string{true: vpc, false: peer}[i%2 == 0]
		if want[aws.ToString(s.AvailabilityZone)] != aws.ToString(s.CidrBlock) || aws.ToString(s.VpcId) != wantVPC ||
			aws.ToBool(s.DefaultForAz) != (i%2 == 0) || len(aws.ToString(s.SubnetId)) != len("subnet-")+17 {
			t.Errorf("subnet %+v", s)
		}
	}
	if vpc == peer {
		t.Fatalf("one VPC: %s", vpc)
	}
	byVPC := must[*ec2.DescribeSubnetsOutput](t)(e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{peer}}}}))
	if len(byVPC.Subnets) != 3 || aws.ToBool(byVPC.Subnets[0].DefaultForAz) {
		t.Fatalf("peer VPC's subnets %+v", byVPC.Subnets)
	}
	one := must[*ec2.DescribeSubnetsOutput](t)(e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{aws.ToString(subnets.Subnets[1].SubnetId)}}))
	if len(one.Subnets) != 1 {
		t.Fatalf("by id: %+v", one.Subnets)
	}
	_, err := e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-00000000000000000"}})
	wantCode(t, err, codeInvalidSubnetIDNotFound)

	zones := must[*ec2.DescribeAvailabilityZonesOutput](t)(e.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{
		ZoneNames: []string{"us-east-1c"}}))
	if len(zones.AvailabilityZones) != 1 || aws.ToString(zones.AvailabilityZones[0].ZoneId) != "use1-az3" ||
		zones.AvailabilityZones[0].State != ec2types.AvailabilityZoneStateAvailable || aws.ToString(zones.AvailabilityZones[0].RegionName) != "us-east-1" {
		t.Fatalf("zones %+v", zones.AvailabilityZones)
	}
	_, err = e.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"us-east-1z"}})
	wantCode(t, err, codeInvalidParameterValue)
}

func TestDescribeImages(t *testing.T) {
	e := newEnv(t)
	all := must[*ec2.DescribeImagesOutput](t)(e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}}))
	if len(all.Images) != len(localImages) {
		t.Fatalf("%d images", len(all.Images))
	}
	byName := must[*ec2.DescribeImagesOutput](t)(e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"kelp-local-node*"}},
			{Name: aws.String("architecture"), Values: []string{"x86_64"}}}}))
	if len(byName.Images) != 1 || aws.ToString(byName.Images[0].ImageId) != ImageLocalNode ||
		byName.Images[0].State != ec2types.ImageStateAvailable || aws.ToString(byName.Images[0].Name) != "kelp-local-node" {
		t.Fatalf("by name %+v", byName.Images)
	}
	if out := must[*ec2.DescribeImagesOutput](t)(e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}})); len(out.Images) != 0 {
		t.Fatalf("amazon-owned images %+v", out.Images)
	}
	_, err := e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-0123456789abcdef0"}})
	wantCode(t, err, codeInvalidAMIIDNotFound)
	_, err = e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"image-1"}})
	wantCode(t, err, codeInvalidAMIIDMalformed)
}
