"""Cut-over: the restored copy takes the source's name, so the application's endpoint stays the same.

A separately approved plan (`plan_cutover`) of two renames: `rename_old_away`, polled
(`poll_rename`) until the name is free, then `rename_new_in`, polled until done. Each step tells
the restored copy from the old resource by the restore job's tag, so a step run again after its
worker died recognises a rename an earlier run made. A rename AWS has not finished within
`RENAME_TIME_LIMIT` is not polled any longer: `stuck_rename` says where each name stands and what
a person must do, for the runner to journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from service.config.records import RdsSettings
from service.recovery.rds.client import RdsUnavailable, RestoreRefused, call
from service.recovery.rds.resources import (
    JOB_TAG,
    SOURCE_TAG,
    ApiCall,
    Started,
    aware,
    check_identifier,
    derive,
    describe_cluster,
    describe_instance,
    endpoint_of,
    source_name,
    status_of,
    tags_of,
)

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

# A rename takes minutes; one still going after this needs a person (the application's name may be free).
RENAME_TIME_LIMIT = timedelta(minutes=30)


class CutoverState(StrEnum):
    READY = "ready"  # nothing renamed yet
    RENAMING_OLD = "renaming_old"  # the old resource is moving to its new name
    OLD_AWAY = "old_away"  # the old name is free: time for `rename_new_in`
    RENAMING_NEW = "renaming_new"  # the new resource is taking the old name
    DONE = "done"  # the new resource answers under the old name


@dataclass(frozen=True)
class CutoverPlan:
    """Rename the old resource away, then the new one to the old name (which the application uses)."""

    region: str
    aurora: bool
    name: str  # the application's name: the old resource now, the new one afterwards
    old_renamed_to: str
    new_identifier: str
    new_job: str  # the restore job's tag on the new resource: how each step tells new from old
    rename_old_call: ApiCall
    rename_new_call: ApiCall

    @property
    def what(self) -> str:
        return "cluster" if self.aurora else "instance"

    @property
    def summary(self) -> str:
        return (
            f"Rename {self.what} {self.name} to {self.old_renamed_to}, wait until it is available, then rename "
            f"{self.what} {self.new_identifier} to {self.name}. Connections to {self.name} drop during the renames."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "aurora": self.aurora,
            "name": self.name,
            "old_renamed_to": self.old_renamed_to,
            "new_identifier": self.new_identifier,
            "new_job": self.new_job,
            "rename_old_call": self.rename_old_call.to_dict(),
            "rename_new_call": self.rename_new_call.to_dict(),
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CutoverPlan:
        return cls(
            region=data["region"],
            aurora=bool(data["aurora"]),
            name=data["name"],
            old_renamed_to=data["old_renamed_to"],
            new_identifier=data["new_identifier"],
            new_job=data["new_job"],
            rename_old_call=ApiCall.from_dict(data["rename_old_call"]),
            rename_new_call=ApiCall.from_dict(data["rename_new_call"]),
        )


@dataclass(frozen=True)
class CutoverStatus:
    state: CutoverState
    status: str
    endpoint: str | None = None
    port: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "status": self.status, "endpoint": self.endpoint, "port": self.port}


@dataclass(frozen=True)
class NameHolder:
    """What one of a cut-over's three names holds now."""

    name: str
    holds: str  # "the old instance", "the restored copy", or "nothing"
    status: str | None  # AWS's word for it; None when the name holds nothing

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "holds": self.holds, "status": self.status}

    @property
    def line(self) -> str:
        return f"{self.name} holds nothing" if self.status is None else f"{self.name} holds {self.holds} ({self.status})"


@dataclass(frozen=True)
class StuckRename:
    """A rename not finished within RENAME_TIME_LIMIT: where each name stands, and what a person must do."""

    names: tuple[NameHolder, ...]
    advice: tuple[str, ...]

    @property
    def lines(self) -> list[str]:
        return [holder.line for holder in self.names] + list(self.advice)

    def to_dict(self) -> dict[str, Any]:
        return {"names": [holder.to_dict() for holder in self.names], "advice": list(self.advice)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StuckRename:
        return cls(tuple(NameHolder(**holder) for holder in data["names"]), tuple(data["advice"]))


def plan_cutover(
    client: RDSClient,
    rds: RdsSettings,
    new_identifier: str,
    now: datetime,
    *,
    old_renamed_to: str | None = None,
) -> CutoverPlan:
    """Check that the restored copy can take the source's name; starts nothing.

    The new resource must be available and carry the tags `start_restore` put on it (restored by
    deploy-gate from this source); the old one must be available; the name it moves to must be free.
    """
    now = aware(now, "now")
    name = source_name(rds)
    new_id = check_identifier(new_identifier, "the new identifier")
    if new_id == name:
        raise RestoreRefused(f"{new_id} already has the name {name}: nothing to cut over")
    away = check_identifier(old_renamed_to, "the old resource's new name") if old_renamed_to else derive(name, f"-old-{now:%Y%m%d%H%M}")
    if away in (name, new_id):
        raise RestoreRefused(f"the old resource cannot be renamed to {away}")
    aurora = bool(rds.cluster)
    what = "cluster" if aurora else "instance"
    describe = describe_cluster if aurora else describe_instance

    old = describe(client, name)
    if old is None:
        raise RestoreRefused(f"{what} {name} does not exist in {rds.region}")
    new = describe(client, new_id)
    if new is None:
        raise RestoreRefused(f"{what} {new_id} does not exist in {rds.region}")
    for identifier, resource in ((name, old), (new_id, new)):
        status = status_of(resource)
        if status != "available":
            raise RestoreRefused(f"{what} {identifier} is {status}; both must be available before a cut-over")
    tags = tags_of(new)
    if not tags.get(JOB_TAG) or tags.get(SOURCE_TAG, "").lower() != name:
        raise RestoreRefused(f"{what} {new_id} was not restored from {name} by deploy-gate (it lacks the {JOB_TAG} and {SOURCE_TAG} tags)")
    if tags_of(old).get(JOB_TAG) == tags[JOB_TAG]:
        raise RestoreRefused(f"{what} {name} carries the same job tag as {new_id}; cannot tell them apart")
    if aurora and not any(member.get("IsClusterWriter") for member in new.get("DBClusterMembers", [])):
        raise RestoreRefused(f"cluster {new_id} has no writer instance yet; it cannot serve the application")
    if describe(client, away) is not None:
        raise RestoreRefused(f"{what} {away} already exists; choose another name for the old {what}")

    return CutoverPlan(
        region=rds.region,
        aurora=aurora,
        name=name,
        old_renamed_to=away,
        new_identifier=new_id,
        new_job=tags[JOB_TAG],
        rename_old_call=_rename_call(aurora, name, away),
        rename_new_call=_rename_call(aurora, new_id, name),
    )


def rename_old_away(client: RDSClient, plan: CutoverPlan) -> Started:
    """Rename the old resource to `plan.old_renamed_to`; recognises a rename done by an earlier run.

    Then poll until `poll_rename` says `old_away` (`ready` or `renaming_old` mean not yet).
    """
    current = _resource(client, plan, plan.name)
    if current is not None and _is_new(current, plan):
        return Started("rename_old_away", plan.old_renamed_to, resumed=True)
    away = _resource(client, plan, plan.old_renamed_to)
    if current is not None:
        if away is not None:
            raise RestoreRefused(f"{plan.old_renamed_to} was taken after the cut-over was planned; plan it again")
        # A rename already under way makes AWS answer "invalid state": RdsUnavailable, try later.
        call(client, plan.rename_old_call.operation, **plan.rename_old_call.parameters)
        return Started("rename_old_away", plan.old_renamed_to, resumed=False)
    if away is None:
        raise RdsUnavailable(f"neither {plan.name} nor {plan.old_renamed_to} is visible; a rename may be under way")
    if _is_new(away, plan):
        raise RestoreRefused(f"{plan.old_renamed_to} holds the restored copy, not the old resource; check by hand")
    return Started("rename_old_away", plan.old_renamed_to, resumed=True)


def rename_new_in(client: RDSClient, plan: CutoverPlan) -> Started:
    """Rename the restored copy to the old name, once `poll_rename` says `old_away`."""
    current = _resource(client, plan, plan.name)
    if current is not None:
        if _is_new(current, plan):
            return Started("rename_new_in", plan.name, resumed=True)
        raise RestoreRefused(f"{plan.name} still names the old resource: rename it away first")
    new = _resource(client, plan, plan.new_identifier)
    if new is None:
        raise RdsUnavailable(f"neither {plan.name} nor {plan.new_identifier} is visible; a rename may be under way")
    if not _is_new(new, plan):
        raise RestoreRefused(f"{plan.new_identifier} no longer carries job tag {plan.new_job}; check by hand")
    call(client, plan.rename_new_call.operation, **plan.rename_new_call.parameters)
    return Started("rename_new_in", plan.name, resumed=False)


def poll_rename(client: RDSClient, plan: CutoverPlan) -> CutoverStatus:
    """How far the cut-over has got, from what the three names hold now (one to three describes).

    After `rename_old_away`, poll until `old_away` (`ready` or `renaming_old` mean not yet); after
    `rename_new_in`, until `done`, which carries the endpoint the application already uses. The
    runner stops polling after `RENAME_TIME_LIMIT` and journals `stuck_rename`.
    """
    current = _resource(client, plan, plan.name)
    if current is not None and _is_new(current, plan):
        status = status_of(current)
        if status != "available":
            return CutoverStatus(CutoverState.RENAMING_NEW, f"{plan.name} (the restored copy) is {status}")
        address, port = endpoint_of(current, plan.aurora)
        return CutoverStatus(CutoverState.DONE, f"{plan.name} is the restored copy and available", address, port)
    if current is not None:
        status = status_of(current)
        if status == "available":
            return CutoverStatus(CutoverState.READY, f"{plan.name} is still the old resource")
        return CutoverStatus(CutoverState.RENAMING_OLD, f"{plan.name} (the old resource) is {status}")
    away = _resource(client, plan, plan.old_renamed_to)
    if away is None or status_of(away) != "available":
        status = "not visible yet" if away is None else status_of(away)
        return CutoverStatus(CutoverState.RENAMING_OLD, f"{plan.old_renamed_to} is {status}")
    new = _resource(client, plan, plan.new_identifier)
    if new is None:
        return CutoverStatus(CutoverState.RENAMING_NEW, f"{plan.new_identifier} is moving to {plan.name}")
    return CutoverStatus(CutoverState.OLD_AWAY, f"{plan.name} is free; {plan.new_identifier} is {status_of(new)}")


def stuck_rename(client: RDSClient, plan: CutoverPlan) -> StuckRename:
    """Where each of the cut-over's names stands now, and what a person must do to end the cut-over.

    deploy-gate renames nothing after this: AWS may still finish what it started, and a second
    rename on top of a slow one would make things worse.
    """
    holders = tuple(_holder(client, plan, name) for name in (plan.name, plan.old_renamed_to, plan.new_identifier))
    at_name, away, new = holders
    old_what, copy = f"the old {plan.what}", "the restored copy"
    advice: list[str] = []
    if at_name.holds == copy:
        advice.append(f"{plan.name} is already the restored copy: once it is available the cut-over is complete ({plan.old_renamed_to} is the old one).")
    elif at_name.holds == old_what:
        advice.append(f"{plan.name} still names the old {plan.what}; {plan.new_identifier} is untouched.")
        advice.append(
            f"To finish by hand once {plan.name} is available: `{_cli(plan, plan.name, plan.old_renamed_to)}`, "
            f"then once {plan.old_renamed_to} is available: `{_cli(plan, plan.new_identifier, plan.name)}`."
        )
    else:
        advice.append(f"No {plan.what} answers under {plan.name}: the application cannot reach its database until one takes that name.")
        if new.holds == copy:
            advice.append(f"To finish the cut-over once {plan.new_identifier} is available: `{_cli(plan, plan.new_identifier, plan.name)}`.")
        else:
            advice.append(
                f"{plan.new_identifier} is not visible: AWS may still be renaming it to {plan.name}; "
                f"look at the {plan.what}s of {plan.region} in the RDS console before renaming anything."
            )
        if away.holds == old_what:
            advice.append(f"Or, to go back to the old {plan.what} once {plan.old_renamed_to} is available: `{_cli(plan, plan.old_renamed_to, plan.name)}`.")
    advice.append("deploy-gate renames nothing more in this cut-over.")
    return StuckRename(holders, tuple(advice))


def _holder(client: RDSClient, plan: CutoverPlan, name: str) -> NameHolder:
    resource = _resource(client, plan, name)
    if resource is None:
        return NameHolder(name, "nothing", None)
    return NameHolder(name, "the restored copy" if _is_new(resource, plan) else f"the old {plan.what}", status_of(resource))


def _cli(plan: CutoverPlan, identifier: str, new_name: str) -> str:
    """The AWS CLI command a person runs to make one rename by hand."""
    kind = "db-cluster" if plan.aurora else "db-instance"
    return f"aws rds modify-{kind} --region {plan.region} --{kind}-identifier {identifier} --new-{kind}-identifier {new_name} --apply-immediately"


def _resource(client: RDSClient, plan: CutoverPlan, identifier: str) -> dict[str, Any] | None:
    return describe_cluster(client, identifier) if plan.aurora else describe_instance(client, identifier)


def _is_new(resource: Mapping[str, Any], plan: CutoverPlan) -> bool:
    return tags_of(resource).get(JOB_TAG) == plan.new_job


def _rename_call(aurora: bool, identifier: str, new_name: str) -> ApiCall:
    if aurora:
        return ApiCall("modify_db_cluster", {"DBClusterIdentifier": identifier, "NewDBClusterIdentifier": new_name, "ApplyImmediately": True})
    return ApiCall("modify_db_instance", {"DBInstanceIdentifier": identifier, "NewDBInstanceIdentifier": new_name, "ApplyImmediately": True})
