package localcloud

import (
	"slices"
	"strings"
)

// taggable is an EC2 resource with tags: an instance or a launch template.
type taggable struct {
	ID, Type string // resource id and type (instance, launch-template)
	Tags     []tag
}

// ec2Resource returns the tags of the resource id. c.mu must be held.
func (c *Cloud) ec2Resource(id string) (taggable, error) {
	switch {
	case strings.HasPrefix(id, "i-"):
		if inst := c.st.instances[id]; inst != nil {
			return taggable{ID: id, Type: "instance", Tags: inst.Tags}, nil
		}
		return taggable{}, errf(codeInvalidInstanceIDNotFound, "The instance ID '%s' does not exist", id)
	case strings.HasPrefix(id, "lt-"):
		if t := c.st.templates[id]; t != nil {
			return taggable{ID: id, Type: "launch-template", Tags: t.Tags}, nil
		}
		return taggable{}, errf(codeInvalidLTIDNotFound, "The specified launch template, with template ID %s, does not exist.", id)
	}
	return taggable{}, errf(codeInvalidID, "The ID '%s' is not valid", id)
}

// setEC2Tags stores new tags on the resource id, in ch. c.mu must be held.
func (c *Cloud) setEC2Tags(ch *changes, id string, tags []tag) {
	if inst := c.st.instances[id]; inst != nil {
		next := inst.clone()
		next.Tags = tags
		ch.putInstance(next)
		return
	}
	if t := c.st.templates[id]; t != nil {
		next := t.clone()
		next.Tags = tags
		ch.putTemplate(next)
	}
}

// editEC2Tags applies edit to the tags of every resource of ResourceId.N.
func (c *Cloud) editEC2Tags(p params, edit func(have []tag) []tag) (ec2Response, error) {
	ids := p.list("ResourceId")
	if len(ids) == 0 {
		return nil, p.requiredErr("ResourceId")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := &changes{}
	for _, id := range ids {
		r, err := c.ec2Resource(id)
		if err != nil {
			return nil, err
		}
		next := edit(slices.Clone(r.Tags))
		if len(next) > 50 {
			return nil, errf("TagLimitExceeded", "The maximum number of Tags for a resource (50) has been reached: %s.", id)
		}
		c.setEC2Tags(ch, id, next)
	}
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	return &ec2Return{Return: true}, nil
}

func (c *Cloud) createTags(p params) (ec2Response, error) {
	tags, err := parseEC2Tags(p, "Tag")
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, p.requiredErr("Tag")
	}
	return c.editEC2Tags(p, func(have []tag) []tag {
		for _, t := range tags {
			if i := slices.IndexFunc(have, func(x tag) bool { return x.Key == t.Key }); i >= 0 {
				have[i] = t
			} else {
				have = append(have, t)
			}
		}
		return have
	})
}

func (c *Cloud) deleteEC2Tags(p params) (ec2Response, error) {
	var tags []tag
	for _, n := range p.indexes("Tag") {
		k := p.listKey("Tag", n) + "."
		tags = append(tags, tag{Key: p.str(k + "Key"), Value: p.str(k + "Value")})
		if !p.has(k + "Value") {
			tags[len(tags)-1].Value = "\x00any"
		}
	}
	return c.editEC2Tags(p, func(have []tag) []tag {
		return slices.DeleteFunc(have, func(x tag) bool {
			if strings.HasPrefix(x.Key, "aws:") {
				return false
			}
			if len(tags) == 0 {
				return true
			}
			return slices.ContainsFunc(tags, func(t tag) bool { return t.Key == x.Key && (t.Value == "\x00any" || t.Value == x.Value) })
		})
	})
}

type tagDescriptionEC2 struct {
	Key          string `xml:"key"`
	ResourceID   string `xml:"resourceId"`
	ResourceType string `xml:"resourceType"`
	Value        string `xml:"value"`
}

type describeEC2TagsResponse struct {
	ec2Meta
	Tags      items[tagDescriptionEC2] `xml:"tagSet"`
	NextToken string                   `xml:"nextToken,omitempty"`
}

func (c *Cloud) describeEC2Tags(p params) (ec2Response, error) {
	return describe(&c.mu, p, describeOp[tagDescriptionEC2, ec2Response]{
		page:  pageLimits{param: "MaxResults", def: 1000, lo: 5, hi: 1000},
		match: ec2Match(ec2TagFilter),
		list: func() ([]tagDescriptionEC2, error) {
			var all []tagDescriptionEC2
			add := func(r taggable) {
				for _, t := range r.Tags {
					all = append(all, tagDescriptionEC2{Key: t.Key, ResourceID: r.ID, ResourceType: r.Type, Value: t.Value})
				}
			}
			for id, inst := range c.st.instances {
				add(taggable{ID: id, Type: "instance", Tags: inst.Tags})
			}
			for id, t := range c.st.templates {
				add(taggable{ID: id, Type: "launch-template", Tags: t.Tags})
			}
			return all, nil
		},
		key: func(d tagDescriptionEC2) string { return d.ResourceID + "\x00" + d.Key },
		encode: func(page []tagDescriptionEC2, next string) ec2Response {
			return &describeEC2TagsResponse{Tags: append(items[tagDescriptionEC2]{}, page...), NextToken: next}
		},
	})
}

func ec2TagFilter(d tagDescriptionEC2, f filter) (bool, bool) {
	switch f.Name {
	case "key":
		return anyGlob(f.Values, d.Key), true
	case "value":
		return anyGlob(f.Values, d.Value), true
	case "resource-id":
		return anyGlob(f.Values, d.ResourceID), true
	case "resource-type":
		return anyGlob(f.Values, d.ResourceType), true
	}
	return tagFilter(f, []tag{{Key: d.Key, Value: d.Value}})
}
