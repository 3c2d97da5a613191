package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hwmv1 "github.com/metalagent/metalagent/plugin-sdk/proto/v1"
)

// errorDomain marks the ErrorInfo detail that carries an IPA error class.
const errorDomain = "metalagent.hwmanager.v1"

// GRPCPlugin is the go-plugin glue for a HardwareManager: on the plugin side
// it serves Impl, on the host side it returns a HardwareManager that calls
// the plugin.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the manager a plugin serves; unused on the host side.
	Impl HardwareManager
}

// GRPCServer registers Impl with the plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	hwmv1.RegisterHardwareManagerServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a HardwareManager backed by the plugin's connection.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &grpcClient{client: hwmv1.NewHardwareManagerClient(c)}, nil
}

// toStatus turns a manager error into a gRPC status that keeps its kind and
// IPA error class.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	code := codes.Internal
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	default:
		switch KindOf(err) {
		case KindNotSupported:
			code = codes.Unimplemented
		case KindInvalidArgument:
			code = codes.InvalidArgument
		}
	}
	st := status.New(code, err.Error())
	if typ := TypeOf(err); typ != "" {
		if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: typ, Domain: errorDomain}); derr == nil {
			st = d
		}
	}
	return st.Err()
}

// fromStatus turns a gRPC error from a plugin back into a manager error.
// Transport failures (a crashed plugin, a deadline) keep their gRPC status so
// the host can tell them apart.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	typ := ""
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == errorDomain {
			typ = info.Reason
		}
	}
	switch st.Code() {
	case codes.Unimplemented:
		if typ == "" {
			typ = "IncompatibleHardwareMethodError"
		}
		return &Error{Kind: KindNotSupported, Type: typ, Message: st.Message()}
	case codes.InvalidArgument:
		return &Error{Kind: KindInvalidArgument, Type: typ, Message: st.Message()}
	case codes.Internal:
		if typ != "" {
			return &Error{Kind: KindHardware, Type: typ, Message: st.Message()}
		}
	}
	return err
}

// grpcServer adapts a HardwareManager to the generated gRPC service.
type grpcServer struct {
	hwmv1.UnimplementedHardwareManagerServer
	impl HardwareManager
}

func (s *grpcServer) EvaluateHardwareSupport(ctx context.Context, req *hwmv1.EvaluateHardwareSupportRequest) (*hwmv1.EvaluateHardwareSupportResponse, error) {
	c := req.GetConfig()
	cfg := HostConfig{
		AllowedDisks: c.GetAllowedDisks(),
		KernelParams: c.GetKernelParams(),
		BootIF:       c.GetBootif(),
		Debug:        c.GetDebug(),
	}
	level, err := s.impl.EvaluateHardwareSupport(ctx, cfg)
	if err != nil {
		return nil, toStatus(err)
	}
	return &hwmv1.EvaluateHardwareSupportResponse{SupportLevel: int32(level)}, nil
}

func (s *grpcServer) GetVersion(ctx context.Context, _ *hwmv1.GetVersionRequest) (*hwmv1.GetVersionResponse, error) {
	v, err := s.impl.Version(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &hwmv1.GetVersionResponse{Name: v.Name, Version: v.Version}, nil
}

func (s *grpcServer) GetInventory(ctx context.Context, _ *hwmv1.GetInventoryRequest) (*hwmv1.GetInventoryResponse, error) {
	if j, ok := s.impl.(InventoryJSONer); ok {
		raw, err := j.InventoryJSON(ctx)
		if err != nil {
			return nil, toStatus(err)
		}
		if !json.Valid(raw) {
			return nil, toStatus(fmt.Errorf("inventory JSON from the manager is not valid JSON"))
		}
		return &hwmv1.GetInventoryResponse{InventoryJson: raw}, nil
	}
	inv, err := s.impl.Inventory(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	if inv == nil {
		inv = &Inventory{}
	}
	b, err := json.Marshal(inv)
	if err != nil {
		return nil, toStatus(fmt.Errorf("encode inventory: %w", err))
	}
	return &hwmv1.GetInventoryResponse{InventoryJson: b}, nil
}

func (s *grpcServer) GetSteps(ctx context.Context, req *hwmv1.GetStepsRequest) (*hwmv1.GetStepsResponse, error) {
	steps, err := s.impl.Steps(ctx, StepsRequest{
		Kind:  StepKind(req.GetKind()),
		Node:  req.GetNodeJson(),
		Ports: req.GetPortsJson(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	out := make([]*hwmv1.Step, 0, len(steps))
	for _, st := range steps {
		var argsinfo []byte
		if len(st.ArgsInfo) > 0 {
			if argsinfo, err = json.Marshal(st.ArgsInfo); err != nil {
				return nil, toStatus(fmt.Errorf("encode argsinfo of %s: %w", st.Step, err))
			}
		}
		out = append(out, &hwmv1.Step{
			Step:            st.Step,
			Priority:        int32(st.Priority),
			Interface:       st.Interface,
			RebootRequested: st.RebootRequested,
			Abortable:       st.Abortable,
			ArgsinfoJson:    argsinfo,
		})
	}
	return &hwmv1.GetStepsResponse{Steps: out}, nil
}

func (s *grpcServer) Execute(ctx context.Context, req *hwmv1.ExecuteRequest) (*hwmv1.ExecuteResponse, error) {
	fields := req.GetLogFields()
	res, err := s.impl.Execute(WithLogFields(ctx, fields), ExecuteRequest{
		Method:    req.GetMethod(),
		Kind:      StepKind(req.GetKind()),
		Args:      req.GetArgsJson(),
		Node:      req.GetNodeJson(),
		Ports:     req.GetPortsJson(),
		LogFields: fields,
	})
	if err != nil {
		return nil, toStatus(err)
	}
	if len(res) == 0 {
		res = json.RawMessage("null")
	}
	return &hwmv1.ExecuteResponse{ResultJson: res}, nil
}

// grpcClient is the host's view of a plugin: a HardwareManager whose
// methods are gRPC calls.
type grpcClient struct {
	client hwmv1.HardwareManagerClient
}

func (c *grpcClient) EvaluateHardwareSupport(ctx context.Context, cfg HostConfig) (SupportLevel, error) {
	resp, err := c.client.EvaluateHardwareSupport(ctx, &hwmv1.EvaluateHardwareSupportRequest{Config: &hwmv1.HostConfig{
		AllowedDisks: cfg.AllowedDisks,
		KernelParams: cfg.KernelParams,
		Bootif:       cfg.BootIF,
		Debug:        cfg.Debug,
	}})
	if err != nil {
		return SupportNone, fromStatus(err)
	}
	return SupportLevel(resp.GetSupportLevel()), nil
}

func (c *grpcClient) Version(ctx context.Context) (Version, error) {
	resp, err := c.client.GetVersion(ctx, &hwmv1.GetVersionRequest{})
	if err != nil {
		return Version{}, fromStatus(err)
	}
	return Version{Name: resp.GetName(), Version: resp.GetVersion()}, nil
}

func (c *grpcClient) Inventory(ctx context.Context) (*Inventory, error) {
	raw, err := c.InventoryJSON(ctx)
	if err != nil {
		return nil, err
	}
	inv := &Inventory{}
	if err := json.Unmarshal(raw, inv); err != nil {
		return nil, fmt.Errorf("decode inventory: %w", err)
	}
	return inv, nil
}

// InventoryJSON returns the plugin's inventory as the JSON it sent, so the
// host can merge it without losing fields this SDK version does not know.
func (c *grpcClient) InventoryJSON(ctx context.Context) (json.RawMessage, error) {
	resp, err := c.client.GetInventory(ctx, &hwmv1.GetInventoryRequest{})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp.GetInventoryJson(), nil
}

func (c *grpcClient) Steps(ctx context.Context, req StepsRequest) ([]Step, error) {
	resp, err := c.client.GetSteps(ctx, &hwmv1.GetStepsRequest{
		Kind:      string(req.Kind),
		NodeJson:  req.Node,
		PortsJson: req.Ports,
	})
	if err != nil {
		return nil, fromStatus(err)
	}
	steps := make([]Step, 0, len(resp.GetSteps()))
	for _, st := range resp.GetSteps() {
		step := Step{
			Step:            st.GetStep(),
			Priority:        int(st.GetPriority()),
			Interface:       st.GetInterface(),
			RebootRequested: st.GetRebootRequested(),
			Abortable:       st.GetAbortable(),
		}
		if b := st.GetArgsinfoJson(); len(b) > 0 {
			if err := json.Unmarshal(b, &step.ArgsInfo); err != nil {
				return nil, fmt.Errorf("decode argsinfo of step %s: %w", st.GetStep(), err)
			}
		}
		steps = append(steps, step)
	}
	return steps, nil
}

func (c *grpcClient) Execute(ctx context.Context, req ExecuteRequest) (json.RawMessage, error) {
	resp, err := c.client.Execute(ctx, &hwmv1.ExecuteRequest{
		Method:    req.Method,
		Kind:      string(req.Kind),
		ArgsJson:  req.Args,
		NodeJson:  req.Node,
		PortsJson: req.Ports,
		LogFields: req.LogFields,
	})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp.GetResultJson(), nil
}
