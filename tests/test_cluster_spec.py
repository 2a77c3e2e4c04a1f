"""Validation of cluster specs: every bad input is one line saying what is wrong and what is accepted."""

from __future__ import annotations

import dask
import pytest

from mlops_magics.api.clusters import ClusterSpec
from mlops_magics.arguments import cluster_parser, cluster_spec_from_args, parse
from mlops_magics.errors import InvalidInput
from mlops_magics.names import cluster_name as check_name


def spec_from(line: str) -> ClusterSpec:
    return cluster_spec_from_args(parse(cluster_parser("%cluster"), line))


def test_local_spec_from_flags() -> None:
    spec = spec_from("start --workers 3 --threads 2 --memory 1GiB")
    assert spec == ClusterSpec(kind="local", workers=3, threads_per_worker=2, memory_limit="1GiB")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("start --workers 0", "workers must be a whole number >= 1 (got 0)"),
        ("start --workers two", "workers must be a whole number >= 1 (got 'two')"),
        ("start --threads -1", "threads per worker must be a whole number >= 1 (got -1)"),
        ("start --memory lots", "memory limit 'lots' is not accepted"),
        ("start --address nowhere", "scheduler address 'nowhere' is not accepted: use PROTOCOL://HOST:PORT"),
        ("start --factory nope.Cluster", "unknown factory 'nope.Cluster': module 'nope' cannot be imported"),
        ("start --factory distributed.NoSuchCluster", "module 'distributed' has no class 'NoSuchCluster'"),
        ("start --factory LocalCluster", "use MODULE.CLASS"),
        ("start --factory distributed.LocalCluster --kwargs {bad", "--kwargs is not valid JSON"),
        ("start --bogus", "unrecognized arguments: --bogus"),
        ("explode", "invalid choice: 'explode'"),
    ],
)
def test_bad_input_is_one_actionable_line(line: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        spec_from(line)
    assert "\n" not in caught.value.message
    assert fragment in caught.value.message


def test_cluster_names_are_checked() -> None:
    assert check_name("default-2") == "default-2"
    with pytest.raises(InvalidInput, match="cluster name 'bad name!' is not accepted"):
        check_name("bad name!")


def test_address_without_scheme_gets_tcp() -> None:
    assert spec_from("start --address 127.0.0.1:8786").address == "tcp://127.0.0.1:8786"


def test_factory_from_dask_config_like_dask_labextension() -> None:
    factory = {"module": "distributed", "class": "LocalCluster", "kwargs": {"n_workers": 0}}
    with dask.config.set({"labextension.factory": factory}):
        spec = spec_from("start --from-config")
    assert spec.kind == "factory"
    assert spec.factory == "distributed.LocalCluster"
    assert spec.factory_kwargs == {"n_workers": 0}


def test_from_config_without_factory_says_what_to_set() -> None:
    with dask.config.set({"labextension.factory": None}), pytest.raises(InvalidInput, match="labextension.factory"):
        spec_from("start --from-config")


def test_spec_dict_rejects_unknown_fields_and_kinds() -> None:
    with pytest.raises(InvalidInput, match="field `workerz`: is not a known field; accepted: kind, workers"):
        ClusterSpec.from_dict({"workerz": 2})
    with pytest.raises(InvalidInput, match="field `kind`: must be one of 'local', 'address', 'factory' or 'gateway'"):
        ClusterSpec.from_dict({"kind": "cloud"})
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        ClusterSpec.from_dict([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"workers": True}, "field `workers`: must be a whole number 1-10000 (got true)"),
        ({"workers": "3"}, 'field `workers`: must be a whole number 1-10000 (got "3")'),
        ({"workers": 2.5}, "field `workers`: must be a whole number 1-10000 (got 2.5)"),
        ({"workers": float("nan")}, "field `workers`: must be a whole number 1-10000 (got NaN)"),
        ({"workers": 1e400}, "field `workers`: must be a whole number 1-10000 (got Infinity)"),
        ({"workers": 0}, "field `workers`: must be 1-10000 (got 0)"),
        ({"threads_per_worker": 10**6}, "field `threads_per_worker`: must be 1-1024 (got 1000000)"),
        ({"memory_limit": 5}, "field `memory_limit`: must be a string (got 5)"),
        (
            {"kind": "factory", "factory": "distributed.LocalCluster", "factory_kwargs": "x"},
            "field `factory_kwargs`: must be a JSON object",
        ),
        (
            {"kind": "factory", "factory": "distributed.LocalCluster", "factory_kwargs": {"a": [float("nan")]}},
            "factory_kwargs.a holds NaN; numbers must be finite",
        ),
        ({"kind": "address"}, "a cluster of kind 'address' needs the scheduler address"),
        ({"kind": "address", "address": "tcp://h\n:1"}, "field `address`: scheduler address 'tcp://h\\n:1' is not accepted"),
    ],
)
def test_wire_specs_are_strict_and_name_the_field(body: dict, message: str) -> None:
    """A bool is not a count, NaN and 1e400 are not numbers of workers, text is not a JSON object."""
    with pytest.raises(InvalidInput) as caught:
        ClusterSpec.from_dict(body)
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_a_spec_round_trips_through_its_record() -> None:
    spec = ClusterSpec.from_dict({"workers": 3, "memory_limit": "NONE"})
    assert spec.memory_limit == "0"
    assert ClusterSpec.from_dict(spec.to_dict()) == spec


def test_a_whole_number_written_with_a_point_is_that_number() -> None:
    # JSON has one kind of number, and JSON Schema counts 2.0 as an integer: accepted as 2 (2.5 is refused above).
    spec = ClusterSpec.from_dict({"workers": 2.0, "threads_per_worker": 1.0})
    assert (spec.workers, spec.threads_per_worker) == (2, 1) and isinstance(spec.workers, int)


def test_gateway_spec_from_flags_and_from_dask_config() -> None:
    spec = spec_from(
        "start --gateway https://gw.example.org/ --workers 3 --option worker_cores=2 --option worker_memory=1.5 "
        "--option image=repo/img:1 --option gpu=true --auth jupyterhub"
    )
    assert (spec.kind, spec.address, spec.workers, spec.auth) == ("gateway", "https://gw.example.org", 3, "jupyterhub")
    assert spec.options == {"worker_cores": 2, "worker_memory": 1.5, "image": "repo/img:1", "gpu": True}
    assert spec.describe() == (
        "Dask Gateway at https://gw.example.org, 3 worker(s) (worker_cores=2, worker_memory=1.5, image=repo/img:1, gpu=True)"
    )
    with dask.config.set({"gateway.address": "http://127.0.0.1:8000"}):
        assert spec_from("start --gateway").address == "http://127.0.0.1:8000"
        assert ClusterSpec.from_dict({"kind": "gateway"}).address == "http://127.0.0.1:8000"
    with dask.config.set({"gateway.address": None}), pytest.raises(InvalidInput, match="needs the gateway's URL"):
        spec_from("start --gateway")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("start --gateway ftp://gw", "gateway address 'ftp://gw' is not accepted: use the http(s) URL"),
        ("start --gateway http://user:s3cr3t@gw", "a gateway address with credentials in it is not accepted"),
        ("start --gateway http://gw --option worker_cores", "--option 'worker_cores' is not accepted: use NAME=VALUE"),
        ("start --gateway http://gw --option 'bad name=1'", "gateway option name 'bad name' is not accepted"),
        ("start --option worker_cores=2", "--option and --auth go with --gateway"),
        ("start --gateway http://gw --auth ldap", "invalid choice: 'ldap'"),
        ("start --gateway http://gw --address tcp://h:1", "not allowed with argument --gateway"),
    ],
)
def test_bad_gateway_input_is_one_line(line: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        spec_from(line)
    assert "\n" not in caught.value.message and "s3cr3t" not in caught.value.message
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "gateway", "address": "http://gw", "options": {"a": float("nan")}}, "gateway option a must be a finite"),
        ({"kind": "gateway", "address": "http://gw", "options": {"a": [1]}}, "must be a number, true/false or text"),
        ({"kind": "gateway", "address": "http://gw", "options": "x"}, "field `options`: must be a JSON object"),
        ({"kind": "gateway", "address": "http://gw", "auth": "ldap"}, "field `auth`: must be one of 'none'"),
        ({"kind": "local", "options": {"a": 1}}, "options and auth are for a cluster of kind 'gateway' only"),
        ({"kind": "gateway", "address": "tcp://h:1"}, "field `address`: gateway address 'tcp://h:1' is not accepted"),
    ],
)
def test_gateway_wire_specs_name_the_field(body: dict, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ClusterSpec.from_dict(body)
    assert message in caught.value.message and "\n" not in caught.value.message


def test_a_gateway_option_written_with_a_point_is_that_number() -> None:
    spec = ClusterSpec.from_dict({"kind": "gateway", "address": "http://gw", "options": {"worker_cores": 2.0}})
    assert spec.options == {"worker_cores": 2} and isinstance(spec.options["worker_cores"], int)
    assert ClusterSpec.from_dict(spec.to_dict()) == spec
