"""Default deployment names: readable, distinct for each CSV and folder, stable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from prefect_modelslab import batch_deployment
from prefect_modelslab.deployments import default_deployment_name

ROOT = Path(__file__).resolve().parents[2]
#: Every default name ends like this; a name without it is never a default.
HASHED = re.compile(r"^[a-z0-9-]+-to-[a-z0-9-]+-[0-9a-f]{8}$")


def test_the_name_is_the_csv_stem_and_the_folder_then_a_hash() -> None:
    name = default_deployment_name("s3://prompts/nightly.csv", "s3://bucket/videos/")
    assert name.startswith("nightly-to-videos-")
    assert HASHED.match(name), name


def test_the_same_csv_and_folder_always_give_the_same_name() -> None:
    # Pinned: a new release (or another process) must not rename existing deployments.
    assert (
        default_deployment_name("s3://prompts/nightly.csv", "s3://bucket/videos/")
        == "nightly-to-videos-272ebc67"
    )
    assert default_deployment_name("a.csv", "out") == default_deployment_name("a.csv", "out")


def test_a_trailing_slash_on_the_folder_is_the_same_folder() -> None:
    assert default_deployment_name("a.csv", "out/") == default_deployment_name("a.csv", "out")


def test_two_csvs_into_one_folder_get_two_names() -> None:
    one = default_deployment_name("s3://p/nightly.csv", "s3://v/out/")
    other = default_deployment_name("s3://p/weekly.csv", "s3://v/out/")
    assert one != other


def test_one_csv_into_two_folders_gets_two_names() -> None:
    one = default_deployment_name("s3://p/nightly.csv", "s3://v/a/")
    other = default_deployment_name("s3://p/nightly.csv", "s3://v/b/")
    assert one != other


def test_same_readable_parts_in_other_buckets_differ_by_the_hash() -> None:
    one = default_deployment_name("s3://team-a/nightly.csv", "s3://team-a/videos")
    other = default_deployment_name("s3://team-b/nightly.csv", "s3://team-b/videos")
    assert one.rsplit("-", 1)[0] == other.rsplit("-", 1)[0] == "nightly-to-videos"
    assert one != other


@pytest.mark.parametrize(
    ("csv_url", "output_url", "readable"),
    [
        ("Prompts (Final) V2.CSV", "My Videos!", "prompts-final-v2-to-my-videos"),
        ("simplecache::s3://bucket/dir/list.csv.gz", "memory://", "list-to-out"),
        ("s3://bucket/", "/", "bucket-to-out"),
        ("x" * 80 + ".csv", "y" * 80, "x" * 24 + "-to-" + "y" * 24),
    ],
)
def test_odd_urls_still_give_a_valid_readable_name(
    csv_url: str, output_url: str, readable: str
) -> None:
    name = default_deployment_name(csv_url, output_url)
    assert name.rsplit("-", 1)[0] == readable
    assert HASHED.match(name), name


def test_batch_deployment_uses_the_default_name_unless_given_one() -> None:
    built = batch_deployment(csv_url="a.csv", output_url="out/", credentials_block="m")
    assert built.name == default_deployment_name("a.csv", "out/")
    named = batch_deployment(
        csv_url="a.csv", output_url="out/", credentials_block="m", name="my-batch"
    )
    assert named.name == "my-batch"


def test_the_repository_prefect_yaml_name_is_not_one_a_default_can_take() -> None:
    document = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    (deployment,) = document["deployments"]
    assert deployment["name"] == "nightly-batch"
    assert not HASHED.match(deployment["name"])
