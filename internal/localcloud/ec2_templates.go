package localcloud

import (
	"regexp"
	"slices"
	"strconv"
)

var templateNamePattern = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)

// createdBy is the principal recorded as the creator of launch templates.
const createdBy = "arn:aws:iam::" + AccountID + ":root"

type launchTemplateXML struct {
	ID             string     `xml:"launchTemplateId"`
	Name           string     `xml:"launchTemplateName"`
	CreateTime     xmlTime    `xml:"createTime"`
	CreatedBy      string     `xml:"createdBy"`
	DefaultVersion int64      `xml:"defaultVersionNumber"`
	LatestVersion  int64      `xml:"latestVersionNumber"`
	Tags           items[tag] `xml:"tagSet,omitempty"`
}

type ltVersionXML struct {
	ID             string  `xml:"launchTemplateId"`
	Name           string  `xml:"launchTemplateName"`
	Number         int64   `xml:"versionNumber"`
	Description    string  `xml:"versionDescription,omitempty"`
	CreateTime     xmlTime `xml:"createTime"`
	CreatedBy      string  `xml:"createdBy"`
	DefaultVersion bool    `xml:"defaultVersion"`
	Data           ltData  `xml:"launchTemplateData"`
}

type launchTemplateResponse struct {
	ec2Meta
	Template launchTemplateXML `xml:"launchTemplate"`
}

type ltVersionResponse struct {
	ec2Meta
	Version ltVersionXML `xml:"launchTemplateVersion"`
}

type describeLaunchTemplatesResponse struct {
	ec2Meta
	Templates items[launchTemplateXML] `xml:"launchTemplates"`
	NextToken string                   `xml:"nextToken,omitempty"`
}

type describeLTVersionsResponse struct {
	ec2Meta
	Versions  items[ltVersionXML] `xml:"launchTemplateVersionSet"`
	NextToken string              `xml:"nextToken,omitempty"`
}

func (t *launchTemplate) xml() launchTemplateXML {
	return launchTemplateXML{ID: t.ID, Name: t.Name, CreateTime: xmlTime(t.Created), CreatedBy: createdBy,
		DefaultVersion: t.DefaultVersion, LatestVersion: t.LatestVersion, Tags: t.Tags}
}

func (t *launchTemplate) versionXML(v ltVersion) ltVersionXML {
	return ltVersionXML{ID: t.ID, Name: t.Name, Number: v.Number, Description: v.Description,
		CreateTime: xmlTime(v.Created), CreatedBy: createdBy, DefaultVersion: v.Number == t.DefaultVersion, Data: v.Data}
}

// templateByName returns the template called name. c.mu must be held.
func (c *Cloud) templateByName(name string) *launchTemplate {
	for _, t := range c.st.templates {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// findTemplate returns the template named by id or name (exactly one of
// them), with EC2's errors. c.mu must be held.
func (c *Cloud) findTemplate(id, name string) (*launchTemplate, error) {
	switch {
	case id != "" && name != "":
		return nil, errf(codeInvalidParameterCombination, "Both LaunchTemplateId and LaunchTemplateName were specified; specify one")
	case id != "":
		if !templateIDPattern.MatchString(id) {
			return nil, errf(codeInvalidLTIDMalformed, "The specified ID for the launch template (%s) is not valid.", id)
		}
		if t := c.st.templates[id]; t != nil {
			return t, nil
		}
		return nil, errf(codeInvalidLTIDNotFound, "The specified launch template, with template ID %s, does not exist.", id)
	case name != "":
		if t := c.templateByName(name); t != nil {
			return t, nil
		}
		return nil, errf(codeInvalidLTNameNotFound, "The specified launch template, with template name %s, does not exist.", name)
	}
	return nil, errf(codeMissingParameter, "The request must contain the parameter LaunchTemplateName or LaunchTemplateId")
}

// resolveVersion turns "$Latest", "$Default" ("" too) or a number into a
// version of t.
func (t *launchTemplate) resolveVersion(v string) (ltVersion, error) {
	n := t.DefaultVersion
	switch v {
	case "", "$Default":
	case "$Latest":
		n = t.LatestVersion
	default:
		parsed, err := strconv.ParseInt(v, 10, 64)
		if err != nil || parsed < 1 {
			return ltVersion{}, invalidParamf("The version '%s' is not valid: use a version number, $Latest or $Default.", v)
		}
		n = parsed
	}
	if ver, ok := t.version(n); ok {
		return ver, nil
	}
	return ltVersion{}, errf(codeInvalidLTVersionNotFound, "Could not find launch template version %s for launch template %s.", v, t.ID)
}

func (c *Cloud) createLaunchTemplate(p params) (ec2Response, error) {
	name, err := p.required("LaunchTemplateName")
	if err != nil {
		return nil, err
	}
	if !templateNamePattern.MatchString(name) {
		return nil, errf(codeInvalidLTNameMalformed, "A launch template name must be between 3 and 128 characters, "+
			"and may contain letters, numbers, and the following characters: - ( ) . / _.")
	}
	if !p.hasPrefix(dataPrefix) {
		return nil, p.requiredErr("LaunchTemplateData")
	}
	data, err := parseLTData(p)
	if err != nil {
		return nil, err
	}
	specs, err := parseTagSpecs(p, "TagSpecification", "launch-template")
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.templateByName(name) != nil {
		return nil, errf(codeInvalidLTNameAlreadyExists, "Launch template name already in use.")
	}
	now := c.clock.Now().UTC()
	t := &launchTemplate{ID: "lt-" + randomHex(17), Name: name, Created: now, DefaultVersion: 1, LatestVersion: 1,
		Versions: []ltVersion{{Number: 1, Description: p.str("VersionDescription"), Created: now, Data: data}}}
	for _, s := range specs {
		t.Tags = append(t.Tags, s.Tags...)
	}
	ch := &changes{}
	ch.putTemplate(t)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.log.Info("launch template created", "id", t.ID, "name", name)
	return &launchTemplateResponse{Template: t.xml()}, nil
}

func (c *Cloud) createLaunchTemplateVersion(p params) (ec2Response, error) {
	if !p.hasPrefix(dataPrefix) {
		return nil, p.requiredErr("LaunchTemplateData")
	}
	sent, err := parseLTData(p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.findTemplate(p.str("LaunchTemplateId"), p.str("LaunchTemplateName"))
	if err != nil {
		return nil, err
	}
	data := sent
	if p.has("SourceVersion") {
		src, err := t.resolveVersion(p.str("SourceVersion"))
		if err != nil {
			return nil, err
		}
		data = mergeLTData(p, src.Data, sent)
	}
	nt := t.clone()
	nt.LatestVersion++
	v := ltVersion{Number: nt.LatestVersion, Description: p.str("VersionDescription"), Created: c.clock.Now().UTC(), Data: data}
	nt.Versions = append(nt.Versions, v)
	ch := &changes{}
	ch.putTemplate(nt)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	return &ltVersionResponse{Version: nt.versionXML(v)}, nil
}

func (c *Cloud) modifyLaunchTemplate(p params) (ec2Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.findTemplate(p.str("LaunchTemplateId"), p.str("LaunchTemplateName"))
	if err != nil {
		return nil, err
	}
	nt := t.clone()
	if p.has("SetDefaultVersion") {
		v, err := t.resolveVersion(p.str("SetDefaultVersion"))
		if err != nil {
			return nil, err
		}
		nt.DefaultVersion = v.Number
	}
	ch := &changes{}
	ch.putTemplate(nt)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.trigger()
	return &launchTemplateResponse{Template: nt.xml()}, nil
}

func (c *Cloud) deleteLaunchTemplate(p params) (ec2Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.findTemplate(p.str("LaunchTemplateId"), p.str("LaunchTemplateName"))
	if err != nil {
		return nil, err
	}
	ch := &changes{}
	ch.deleteTemplate(t.ID)
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.log.Info("launch template deleted", "id", t.ID, "name", t.Name)
	return &launchTemplateResponse{Template: t.xml()}, nil
}

func (c *Cloud) describeLaunchTemplates(p params) (ec2Response, error) {
	ids, names := p.list("LaunchTemplateId"), p.list("LaunchTemplateName")
	return describe(&c.mu, p, describeOp[*launchTemplate, ec2Response]{
		page:  pageLimits{param: "MaxResults", def: 200, lo: 1, hi: 200},
		match: ec2Match(templateFilter),
		list:  func() ([]*launchTemplate, error) { return c.namedTemplates(ids, names) },
		key:   func(t *launchTemplate) string { return t.Name },
		encode: func(page []*launchTemplate, next string) ec2Response {
			resp := &describeLaunchTemplatesResponse{Templates: items[launchTemplateXML]{}, NextToken: next}
			for _, t := range page {
				resp.Templates = append(resp.Templates, t.xml())
			}
			return resp
		},
	})
}

// namedTemplates returns the templates named by id or name, each once, or
// every template when none is named. c.mu must be held.
func (c *Cloud) namedTemplates(ids, names []string) ([]*launchTemplate, error) {
	if len(ids)+len(names) == 0 {
		var out []*launchTemplate
		for _, t := range c.st.templates {
			out = append(out, t)
		}
		return out, nil
	}
	var out []*launchTemplate
	seen := map[string]bool{}
	add := func(t *launchTemplate) {
		if !seen[t.ID] {
			seen[t.ID] = true
			out = append(out, t)
		}
	}
	for _, id := range ids {
		t, err := c.findTemplate(id, "")
		if err != nil {
			return nil, err
		}
		add(t)
	}
	for _, name := range names {
		t := c.templateByName(name)
		if t == nil {
			return nil, errf(codeInvalidLTNameNotFound, "At least one of the launch templates specified in the request does not exist.")
		}
		add(t)
	}
	return out, nil
}

func templateFilter(t *launchTemplate, f filter) (bool, bool) {
	switch f.Name {
	case "launch-template-name":
		return anyGlob(f.Values, t.Name), true
	case "create-time":
		return anyGlob(f.Values, t.Created.UTC().Format(timeFormat)), true
	}
	return tagFilter(f, t.Tags)
}

func (c *Cloud) describeLaunchTemplateVersions(p params) (ec2Response, error) {
	var minV, maxV int
	return describe(&c.mu, p, describeOp[ltVersionXML, ec2Response]{
		page: pageLimits{param: "MaxResults", def: 200, lo: 1, hi: 200},
		check: func([]filter) (err error) {
			if minV, err = p.intOr("MinVersion", 0); err != nil {
				return err
			}
			if maxV, err = p.intOr("MaxVersion", 0); err != nil {
				return err
			}
			// No filter is supported; describe does not read them (no match).
			if filters, err := p.filters(); err != nil {
				return err
			} else if len(filters) > 0 {
				return badFilter(filters[0].Name)
			}
			return nil
		},
		list: func() ([]ltVersionXML, error) {
			templates, err := c.versionTemplates(p)
			if err != nil {
				return nil, err
			}
			var all []ltVersionXML
			for _, t := range templates {
				vs, err := selectVersions(t, p.list("LaunchTemplateVersion"), int64(minV), int64(maxV))
				if err != nil {
					return nil, err
				}
				for _, v := range vs {
					all = append(all, t.versionXML(v))
				}
			}
			return all, nil
		},
		key: func(v ltVersionXML) string { return v.Name + "\x00" + strconv.FormatInt(1<<40-v.Number, 10) },
		encode: func(page []ltVersionXML, next string) ec2Response {
			return &describeLTVersionsResponse{Versions: append(items[ltVersionXML]{}, page...), NextToken: next}
		},
	})
}

// versionTemplates returns the template the request names, or every
// template when it names none.
func (c *Cloud) versionTemplates(p params) ([]*launchTemplate, error) {
	id, name := p.str("LaunchTemplateId"), p.str("LaunchTemplateName")
	if id == "" && name == "" {
		var out []*launchTemplate
		for _, t := range c.st.templates {
			out = append(out, t)
		}
		return out, nil
	}
	t, err := c.findTemplate(id, name)
	if err != nil {
		return nil, err
	}
	return []*launchTemplate{t}, nil
}

// selectVersions returns the versions asked for (all when none), limited to
// [minV, maxV] when those are set.
func selectVersions(t *launchTemplate, asked []string, minV, maxV int64) ([]ltVersion, error) {
	var out []ltVersion
	if len(asked) == 0 {
		out = slices.Clone(t.Versions)
	}
	for _, a := range asked {
		v, err := t.resolveVersion(a)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(x ltVersion) bool { return x.Number == v.Number }) {
			out = append(out, v)
		}
	}
	return slices.DeleteFunc(out, func(v ltVersion) bool {
		return (minV > 0 && v.Number < minV) || (maxV > 0 && v.Number > maxV)
	}), nil
}
