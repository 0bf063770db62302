package localcloud

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// poolKey is a pool as one group launches into it.
type poolKey struct {
	Zone, Type string
	Spot       bool
}

// launchState is what a scale-out pass knows and updates as it launches.
type launchState struct {
	zoneCount      map[string]int    // the group's active instances per zone
	onDemand, spot int               // the group's active instances per capacity type
	groupPools     map[poolKey]int   // the group's active instances per pool
	spotUsed       map[[2]string]int // active spot instances of all groups per {type, zone}
	failed         map[poolKey]bool  // pools whose launch failed in this pass
}

func (c *Cloud) newLaunchState(g *group, active []*instance) *launchState {
	ls := &launchState{zoneCount: map[string]int{}, groupPools: map[poolKey]int{},
		spotUsed: map[[2]string]int{}, failed: map[poolKey]bool{}}
	for _, inst := range active {
		ls.addGroup(inst)
	}
	for _, inst := range c.st.instances {
		if inst.Spot && inst.State.runs() {
			ls.spotUsed[[2]string{inst.Type, inst.Zone}]++
		}
	}
	return ls
}

func (ls *launchState) addGroup(inst *instance) {
	ls.zoneCount[inst.Zone]++
	ls.groupPools[poolKey{inst.Zone, inst.Type, inst.Spot}]++
	if inst.Spot {
		ls.spot++
	} else {
		ls.onDemand++
	}
}

// add counts a new launch of the group.
func (ls *launchState) add(inst *instance) {
	ls.addGroup(inst)
	if inst.Spot {
		ls.spotUsed[[2]string{inst.Type, inst.Zone}]++
	}
}

// launchPick is the pool, template and subnet one launch uses.
type launchPick struct {
	Zone      zone
	SubnetID  string
	Type      string
	Spot      bool
	Template  *launchTemplate
	Version   ltVersion
	Available int
}

// launchOption is an instance type a group may launch and its template.
type launchOption struct {
	Type     string
	Template *launchTemplate
	Version  ltVersion
}

// resolveSpec returns the template and version spec names. c.mu must be held.
func (c *Cloud) resolveSpec(spec templateSpec) (*launchTemplate, ltVersion, error) {
	t, err := c.findTemplate(spec.ID, spec.Name)
	if err != nil {
		return nil, ltVersion{}, err
	}
	v, err := t.resolveVersion(spec.Version)
	if err != nil {
		return nil, ltVersion{}, err
	}
	return t, v, nil
}

// launchOptions lists what g may launch, in priority order.
func (c *Cloud) launchOptions(g *group) ([]launchOption, *apiError) {
	base, baseV, err := c.resolveSpec(g.baseTemplate())
	if err != nil {
		return nil, asAPIError(err)
	}
	if g.Mixed == nil || len(g.Mixed.Overrides) == 0 {
		if baseV.Data.InstanceType == "" {
			return nil, invalidParamf("The launch template %s version %d does not specify an instance type.", base.ID, baseV.Number)
		}
		return []launchOption{{Type: baseV.Data.InstanceType, Template: base, Version: baseV}}, nil
	}
	var out []launchOption
	for _, o := range g.Mixed.Overrides {
		opt := launchOption{Type: o.InstanceType, Template: base, Version: baseV}
		if o.Template != nil {
			if opt.Template, opt.Version, err = c.resolveSpec(*o.Template); err != nil {
				return nil, asAPIError(err)
			}
		}
		out = append(out, opt)
	}
	return out, nil
}

func asAPIError(err error) *apiError {
	if ae, ok := err.(*apiError); ok {
		return ae
	}
	return &apiError{Code: codeInternalError, Message: err.Error()}
}

// pickPool chooses the zone (fewest of the group's instances first) and the
// pool in it for one launch. ok is false when every pool failed already.
func (c *Cloud) pickPool(g *group, ls *launchState, spot bool) (pick launchPick, ok bool, fatal *apiError) {
	opts, fatal := c.launchOptions(g)
	if fatal != nil {
		return pick, false, fatal
	}
	strategy, pools := "prioritized", 1
	if g.Mixed != nil {
		d := g.Mixed.Distribution
		strategy, pools = d.OnDemandAllocationStrategy, d.SpotInstancePools
		if spot {
			strategy = d.SpotAllocationStrategy
		}
	}
	for _, zname := range zonesByCountAsc(g.Zones, ls.zoneCount) {
		z, found := c.region.zone(zname)
		if !found {
			continue
		}
		var cands []candidate
		for i, o := range opts {
			if cand, ok := c.poolCandidate(ls, z.Name, o.Type, spot, i); ok {
				cands = append(cands, cand)
			}
		}
		best, ok := choosePool(strategy, spot, pools, cands)
		if !ok {
			continue
		}
		for _, o := range opts {
			if o.Type == best.InstanceType {
				return launchPick{Zone: z, SubnetID: groupSubnet(g, z), Type: o.Type, Spot: spot,
					Template: o.Template, Version: o.Version, Available: best.Available}, true, nil
			}
		}
	}
	return pick, false, nil
}

// poolCandidate describes one pool for choosePool; ok is false when the
// pool failed already in this pass or the type is unknown.
func (c *Cloud) poolCandidate(ls *launchState, zoneName, instanceType string, spot bool, priority int) (candidate, bool) {
	if ls.failed[poolKey{zoneName, instanceType, spot}] {
		return candidate{}, false
	}
	it, err := catalog.Lookup(instanceType)
	if err != nil {
		return candidate{}, false
	}
	cand := candidate{InstanceType: instanceType, Priority: priority, Price: it.OnDemandPrice, Available: unlimited,
		Running: ls.groupPools[poolKey{zoneName, instanceType, spot}]}
	if spot {
		cand.Price = spotPrice(it.SpotPrice, instanceType, zoneName)
		if capacity, limited := c.faults.spotCapacity(instanceType, zoneName); limited {
			cand.Available = capacity - ls.spotUsed[[2]string{instanceType, zoneName}]
		}
	}
	return cand, true
}

// groupSubnet returns the group's subnet in z, or z's default subnet.
func groupSubnet(g *group, z zone) string {
	for _, s := range g.Subnets {
		if s == z.SubnetID {
			return s
		}
	}
	return z.SubnetID
}

// launchError is why one launch failed; fatal failures end the pass
// (every pool would fail the same way).
type launchError struct {
	Code, Message string
	Fatal         bool
}

// checkLaunch applies what RunInstances would check, and the faults.
func (c *Cloud) checkLaunch(pick launchPick) *launchError {
	data := pick.Version.Data
	img, ok := findImage(data.ImageID)
	switch {
	case data.ImageID == "":
		return &launchError{Code: codeMissingParameter, Message: "The request must contain the parameter ImageId.", Fatal: true}
	case !ok:
		return &launchError{Code: codeInvalidAMIIDNotFound, Message: fmt.Sprintf("The image id '[%s]' does not exist.", data.ImageID), Fatal: true}
	}
	if ref := data.IamInstanceProfile; ref != nil {
		if _, ok := c.iam.profileNamed(ref.Arn + ref.Name); !ok || (ref.Arn != "") == (ref.Name != "") {
			return &launchError{Code: codeInvalidParameterValue, Message: fmt.Sprintf("Value (%s) for parameter "+
				"iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name", ref.Arn+ref.Name), Fatal: true}
		}
	}
	if it, err := catalog.Lookup(pick.Type); err == nil && string(it.Architecture) != img.Architecture {
		return &launchError{Code: codeInvalidParameterValue, Message: fmt.Sprintf("The architecture '%s' of the specified instance type "+
			"does not match the architecture '%s' of the specified AMI. Specify an instance type and an AMI that have matching "+
			"architectures, and try again.", it.Architecture, img.Architecture), Fatal: true}
	}
	if pick.Spot && pick.Available <= 0 {
		return &launchError{Code: codeInsufficientCapacity, Message: fmt.Sprintf("There is no Spot capacity available that matches "+
			"your request (%s in %s).", pick.Type, pick.Zone.Name)}
	}
	if c.rnd.chance(c.faults.launchFailureRate(pick.Type, pick.Zone.Name)) {
		return &launchError{Code: codeInsufficientCapacity, Message: fmt.Sprintf("We currently do not have sufficient %s capacity in "+
			"the Availability Zone you requested (%s). Our system will be working on provisioning additional capacity.",
			pick.Type, pick.Zone.Name)}
	}
	return nil
}

// launchOne launches one instance, trying other pools after failures. It
// returns the instance (nil if none launched) and the number of failures.
func (c *Cloud) launchOne(ch *changes, g *group, ls *launchState, spot bool, cause string, now time.Time) (*instance, int) {
	fails := 0
	for range 64 { // bounded: each failure removes a pool
		pick, ok, fatal := c.pickPool(g, ls, spot)
		if fatal != nil {
			c.recordLaunchFailure(ch, g, cause, zone{}, "", launchError{Code: fatal.Code, Message: fatal.Message}, now)
			return nil, fails + 1
		}
		if !ok {
			return nil, fails
		}
		if lerr := c.checkLaunch(pick); lerr != nil {
			c.recordLaunchFailure(ch, g, cause, pick.Zone, pick.SubnetID, *lerr, now)
			fails++
			if lerr.Fatal {
				return nil, fails
			}
			ls.failed[poolKey{pick.Zone.Name, pick.Type, pick.Spot}] = true
			continue
		}
		inst, err := c.newInstance(ch, g, pick, cause, now)
		if err != nil {
			ae := asAPIError(err)
			c.recordLaunchFailure(ch, g, cause, pick.Zone, pick.SubnetID, launchError{Code: ae.Code, Message: ae.Message}, now)
			return nil, fails + 1
		}
		return inst, fails
	}
	return nil, fails
}

// recordLaunchFailure adds a Failed "Launching a new EC2 instance" activity.
func (c *Cloud) recordLaunchFailure(ch *changes, g *group, cause string, z zone, subnet string, lerr launchError, now time.Time) {
	a := &activity{ID: newRequestID(), Group: g.Name, GroupARN: g.ARN,
		Description: "Launching a new EC2 instance.  Status Reason: " + lerr.Message + " Launching EC2 instance failed.",
		Cause:       cause, StatusCode: activityFailed, Progress: 100, Start: now, End: now,
		StatusMessage: lerr.Code + ": " + lerr.Message + " Launching EC2 instance failed.",
		Details:       activityDetails(z.Name, subnet)}
	ch.putActivity(a)
	c.log.Warn("launch failed", "group", g.Name, "zone", z.Name, "code", lerr.Code, "message", lerr.Message)
}

func activityDetails(zoneName, subnet string) string {
	d := map[string]string{}
	if subnet != "" {
		d["Subnet ID"] = subnet
	}
	if zoneName != "" {
		d["Availability Zone"] = zoneName
	}
	b, _ := json.Marshal(d) // a map of strings always encodes
	return string(b)
}

// newInstance creates the Pending instance and its InProgress launch
// activity in ch.
func (c *Cloud) newInstance(ch *changes, g *group, pick launchPick, cause string, now time.Time) (*instance, error) {
	ip, err := c.allocateIP(ch, pick.Zone)
	if err != nil {
		return nil, err
	}
	id := "i-" + randomHex(17)
	for c.st.instances[id] != nil || ch.instances[id] != nil {
		id = "i-" + randomHex(17)
	}
	data := pick.Version.Data
	inst := &instance{ID: id, Group: g.Name, Type: pick.Type, Zone: pick.Zone.Name, SubnetID: pick.SubnetID,
		ImageID: imageIDOf(data.ImageID), PrivateIP: ip, PrivateDNS: c.region.privateDNSName(ip), Spot: pick.Spot,
		Template: templateSpec{ID: pick.Template.ID, Name: pick.Template.Name, Version: strconv.FormatInt(pick.Version.Number, 10)},
		State:    statePending, LaunchTime: now, StateTime: now, UserData: data.UserData, KeyName: data.KeyName,
		SecurityGroupIDs: data.SecurityGroupIDs, ProtectedFromScaleIn: g.NewInstancesProtectedFromScaleIn}
	if ref := data.IamInstanceProfile; ref != nil {
		p, _ := c.iam.profileNamed(ref.Arn + ref.Name) // checkLaunch made sure it exists
		inst.Profile = p.Name
	}
	inst.Tags = launchTags(g, inst, data)
	a := &activity{ID: newRequestID(), Group: g.Name, GroupARN: g.ARN, Description: "Launching a new EC2 instance: " + id,
		Cause: cause, StatusCode: activityInProgress, Progress: 20, Start: now, Details: activityDetails(inst.Zone, inst.SubnetID)}
	inst.LaunchActivity = a.ID
	ch.putInstance(inst)
	ch.putActivity(a)
	return inst, nil
}

// launchTags are the template's instance tags, overridden by the group's
// tags that propagate at launch, plus the tags AWS adds.
func launchTags(g *group, inst *instance, data ltData) []tag {
	tags := data.instanceTags()
	set := func(k, v string) {
		for i := range tags {
			if tags[i].Key == k {
				tags[i].Value = v
				return
			}
		}
		tags = append(tags, tag{Key: k, Value: v})
	}
	for _, t := range g.Tags {
		if t.PropagateAtLaunch {
			set(t.Key, t.Value)
		}
	}
	set("aws:autoscaling:groupName", g.Name)
	set("aws:ec2launchtemplate:id", inst.Template.ID)
	set("aws:ec2launchtemplate:version", inst.Template.Version)
	return tags
}

// allocateIP returns the next free address of the zone's subnet, skipping
// the first four (reserved on AWS) and addresses ending in .0 or .255.
func (c *Cloud) allocateIP(ch *changes, z zone) (string, error) {
	used := map[string]bool{}
	for _, inst := range c.st.instances {
		if inst.State != stateTerminated {
			used[inst.PrivateIP] = true
		}
	}
	for _, inst := range ch.instances {
		if inst != nil {
			used[inst.PrivateIP] = true
		}
	}
	base := z.CIDR.Addr().As4()
	off := max(ch.meta.IPCursor[z.SubnetID], 4)
	for range 1 << 16 {
		if off > 0xfffe {
			off = 4
		}
		o := off
		off++
		if lo := o & 0xff; lo == 0 || lo == 0xff {
			continue
		}
		ip := netip.AddrFrom4([4]byte{base[0], base[1], byte(o >> 8), byte(o)}).String()
		if !used[ip] {
			ch.meta.IPCursor[z.SubnetID] = off
			return ip, nil
		}
	}
	return "", errf("InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", z.SubnetID)
}

// imageIDOf is the AMI id an instance launched from id runs: an SSM
// parameter resolved, as EC2 shows it on the instance.
func imageIDOf(id string) string {
	if img, ok := findImage(id); ok {
		return img.ID
	}
	return id
}
