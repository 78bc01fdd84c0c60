"""R-REGION: a misspelt region is refused at validate, where it stands, with the names it was close to."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.providers.aws_regions import aws_regions
from reconciler.systems.regions import azure_locations
from tests.conftest import EXAMPLES, Result, write


def misspelt(cmkctl: Callable[..., Result], tmp_path: Path, example: str, region: str, wrong: str) -> Result:
    text = (EXAMPLES / example).read_text("utf-8")
    assert f"  - name: {region}\n" in text
    return cmkctl("validate", write(tmp_path / "m.yaml", text.replace(f"  - name: {region}\n", f"  - name: {wrong}\n")))


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_misspelt_aws_region_is_refused_with_file_line_field_and_close_names(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    result = misspelt(cmkctl, tmp_path, "astra-managed-clusters-aws.yaml", "us-east-2", "eu-centrall-1")
    assert result.code == 3, result.out + result.err
    line = line_of(tmp_path / "m.yaml", "eu-centrall-1")
    assert (f"m.yaml:{line}: regions[0].name: 'eu-centrall-1' is not an AWS region (by botocore's partition "
            "data); did you mean 'eu-central-1'") in result.err
    assert "[R-REGION]" in result.err and "Traceback" not in result.err


def test_a_misspelt_azure_location_is_refused_with_file_line_field_and_close_names(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    result = misspelt(cmkctl, tmp_path, "astra-serverless-azure.yaml", "eastus", "westeurop")
    assert result.code == 3, result.out + result.err
    line = line_of(tmp_path / "m.yaml", "westeurop")
    assert (f"m.yaml:{line}: regions[0].name: 'westeurop' is not an Azure location (by cmkctl's kept list); "
            "did you mean 'westeurope'") in result.err
    assert "[R-REGION]" in result.err


@pytest.mark.parametrize("name", ["eu-central-1", "us-east-2", "us-gov-west-1", "cn-north-1"])
def test_aws_regions_come_from_every_partition_botocore_ships(name: str) -> None:
    assert name in aws_regions()


def test_reading_the_aws_regions_loads_no_botocore() -> None:
    probe = ("import sys; from reconciler.providers.aws_regions import aws_regions; "
             "print('eu-west-1' in aws_regions(), sorted(m for m in sys.modules if m.startswith('botocore')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "True []", done.stdout + done.stderr


@pytest.mark.parametrize("name", ["westeurope", "eastus", "swedencentral", "usgovvirginia", "chinanorth3"])
def test_the_kept_azure_list_holds_the_public_government_and_china_locations(name: str) -> None:
    assert name in azure_locations()
