// rcrun-cri: the subset of crictl's commands the CRI tests use, with
// crictl's flags, config files (snake_case JSON, as crictl reads them) and
// output (`inspect` prints {"status": ..., "info": ...} as crictl does).
// It exists because crictl cannot be built here: it is compiled with
// Debian's Go and Debian's Go packages of k8s.io/cri-api and grpc
// (conformance/k8s/lib.bash); set RCRUN_TEST_CRICTL to a real crictl to
// run the same tests with it.
//
//	rcrun-cri -r unix:///path/containerd.sock COMMAND ARGS
//	  version | runp [--runtime H] POD.json | create [--no-pull] POD CTR.json POD.json
//	  start ID | stop [-t S] ID | rm ID | inspect [-o json] ID | inspectp ID
//	  stopp ID | rmp ID | ps [-a] [-q] [-p POD] | pods [-q]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/gogo/protobuf/jsonpb"
	"github.com/gogo/protobuf/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	rt "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "rcrun-cri: "+format+"\n", a...)
	os.Exit(1)
}

func load(path string, v interface{}) {
	data, err := os.ReadFile(path)
	if err != nil {
		die("%v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		die("%s: %v", path, err)
	}
}

func printJSON(m proto.Message) string {
	var b bytes.Buffer
	ma := jsonpb.Marshaler{EmitDefaults: true, Indent: "  "}
	if err := ma.Marshal(&b, m); err != nil {
		die("marshal: %v", err)
	}
	return b.String()
}

// inspectOut prints {"status": STATUS, "info": INFO...} like crictl.
func inspectOut(status proto.Message, info map[string]string) {
	out := map[string]json.RawMessage{"status": json.RawMessage(printJSON(status))}
	for k, v := range info {
		if json.Valid([]byte(v)) {
			out[k] = json.RawMessage(v)
		} else {
			s, _ := json.Marshal(v)
			out[k] = s
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		die("marshal: %v", err)
	}
	fmt.Println(string(b))
}

func main() {
	endpoint := flag.String("r", os.Getenv("CONTAINER_RUNTIME_ENDPOINT"), "runtime endpoint (unix:///path)")
	flag.StringVar(endpoint, "runtime-endpoint", *endpoint, "runtime endpoint")
	timeout := flag.Duration("timeout", 2*time.Minute, "per-call timeout")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		die("no command")
	}
	sock := strings.TrimPrefix(*endpoint, "unix://")
	if sock == "" {
		die("no runtime endpoint (-r unix:///path)")
	}
	conn, err := grpc.NewClient("passthrough:///cri",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}))
	if err != nil {
		die("connect %s: %v", sock, err)
	}
	defer conn.Close()
	c := rt.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, c, args[0], args[1:]); err != nil {
		die("%s: %v", args[0], err)
	}
}

func run(ctx context.Context, c rt.RuntimeServiceClient, cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	handler := fs.String("runtime", "", "runtime handler")
	fs.Bool("no-pull", true, "images are local (always)")
	stopTimeout := fs.Int64("t", 0, "stop timeout (s)")
	output := fs.String("o", "json", "output format (json)")
	all := fs.Bool("a", false, "all containers")
	quiet := fs.Bool("q", false, "ids only")
	podFilter := fs.String("p", "", "pod id")
	_ = fs.Parse(args)
	a := fs.Args()
	need := func(n int) {
		if len(a) != n {
			die("%s: %d argument(s) needed, got %d", cmd, n, len(a))
		}
	}
	if *output != "json" {
		die("%s: only -o json", cmd)
	}
	switch cmd {
	case "version":
		r, err := c.Version(ctx, &rt.VersionRequest{})
		if err != nil {
			return err
		}
		fmt.Printf("Version:  %s\nRuntimeName:  %s\nRuntimeVersion:  %s\nRuntimeApiVersion:  %s\n",
			r.Version, r.RuntimeName, r.RuntimeVersion, r.RuntimeApiVersion)
	case "runp":
		need(1)
		var pc rt.PodSandboxConfig
		load(a[0], &pc)
		r, err := c.RunPodSandbox(ctx, &rt.RunPodSandboxRequest{Config: &pc, RuntimeHandler: *handler})
		if err != nil {
			return err
		}
		fmt.Println(r.PodSandboxId)
	case "create":
		need(3)
		var cc rt.ContainerConfig
		var pc rt.PodSandboxConfig
		load(a[1], &cc)
		load(a[2], &pc)
		r, err := c.CreateContainer(ctx, &rt.CreateContainerRequest{PodSandboxId: a[0], Config: &cc, SandboxConfig: &pc})
		if err != nil {
			return err
		}
		fmt.Println(r.ContainerId)
	case "start":
		need(1)
		_, err := c.StartContainer(ctx, &rt.StartContainerRequest{ContainerId: a[0]})
		return err
	case "stop":
		need(1)
		_, err := c.StopContainer(ctx, &rt.StopContainerRequest{ContainerId: a[0], Timeout: *stopTimeout})
		return err
	case "rm":
		need(1)
		_, err := c.RemoveContainer(ctx, &rt.RemoveContainerRequest{ContainerId: a[0]})
		return err
	case "inspect":
		need(1)
		r, err := c.ContainerStatus(ctx, &rt.ContainerStatusRequest{ContainerId: a[0], Verbose: true})
		if err != nil {
			return err
		}
		inspectOut(r.Status, r.Info)
	case "inspectp":
		need(1)
		r, err := c.PodSandboxStatus(ctx, &rt.PodSandboxStatusRequest{PodSandboxId: a[0], Verbose: true})
		if err != nil {
			return err
		}
		inspectOut(r.Status, r.Info)
	case "stopp":
		need(1)
		_, err := c.StopPodSandbox(ctx, &rt.StopPodSandboxRequest{PodSandboxId: a[0]})
		return err
	case "rmp":
		need(1)
		_, err := c.RemovePodSandbox(ctx, &rt.RemovePodSandboxRequest{PodSandboxId: a[0]})
		return err
	case "ps":
		f := &rt.ContainerFilter{PodSandboxId: *podFilter}
		if !*all {
			f.State = &rt.ContainerStateValue{State: rt.ContainerState_CONTAINER_RUNNING}
		}
		r, err := c.ListContainers(ctx, &rt.ListContainersRequest{Filter: f})
		if err != nil {
			return err
		}
		for _, x := range r.Containers {
			if *quiet {
				fmt.Println(x.Id)
			} else {
				fmt.Printf("%s\t%s\t%s\t%s\n", x.Id, x.Metadata.GetName(), x.State, x.PodSandboxId)
			}
		}
	case "pods":
		r, err := c.ListPodSandbox(ctx, &rt.ListPodSandboxRequest{})
		if err != nil {
			return err
		}
		for _, x := range r.Items {
			if *quiet {
				fmt.Println(x.Id)
			} else {
				fmt.Printf("%s\t%s\t%s\t%s\n", x.Id, x.Metadata.GetName(), x.State, x.RuntimeHandler)
			}
		}
	default:
		die("unknown command %q", cmd)
	}
	return nil
}
