"""Demo staff: handling units, one user per role, and the core's responsibility grids.

Everything here is upserted by its code or username, so loading the demo twice changes
nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from gridops.auth.models import User
from gridops.auth.roles import Role
from gridops.auth.services import create_user
from gridops.demo.generator import CITY_CODE, CityPlan, PlannedArea
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area, AreaLevel, ResponsibilityGrid

#: Unit grids per responsibility grid the demo aims for (each gets about 6–10).
GRIDS_PER_RESPONSIBILITY_GRID = 8
#: Responsibility grids are cut from bands of this many unit-grid rows, so each is a compact block.
BAND_ROWS = 3
BOUND_COLUMNS = ("min_x", "max_x", "min_y", "max_y")


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    name_en: str
    kind: str
    parent_code: str | None
    area_code: str


@dataclass(frozen=True)
class DemoLogin:
    """A demo user's sign-in, printed by ``gridops demo``."""

    username: str
    password: str
    role: Role
    scope: str

    @property
    def role_label(self) -> str:
        return f"{self.role.label_zh} / {self.role.label_en} — {self.scope}"


CITY_BUREAU = "NY-CGJ"
CITY_SANITATION = "NY-CGJ-HWC"

def _city_unit(
    code: str, name: str, name_en: str, kind: str, parent_code: str | None = None
) -> DepartmentSpec:
    return DepartmentSpec(code, name, name_en, kind, parent_code, CITY_CODE)


CITY_DEPARTMENTS = (
    _city_unit(CITY_BUREAU, "南阳市城市管理局", "Nanyang City Administration Bureau", "bureau"),
    _city_unit(CITY_SANITATION, "市城市管理局环卫处", "Sanitation Division", "sanitation", CITY_BUREAU),
    _city_unit("NY-CGJ-SZC", "市城市管理局市政工程处", "Municipal Works Division", "municipal_works", CITY_BUREAU),
    _city_unit("NY-CGJ-YLC", "市城市管理局园林绿化处", "Landscaping Division", "landscaping", CITY_BUREAU),
    _city_unit(
        "NY-CGJ-ZFZD", "市城管执法支队", "Urban Management Law Enforcement Detachment", "law_enforcement",
        CITY_BUREAU,
    ),
    _city_unit("NY-CGJ-LDS", "市路灯管理所", "Street Lighting Office", "street_lighting", CITY_BUREAU),
    _city_unit("NY-GSGS", "南阳市供水公司", "Nanyang Water Supply Company", "water_utility"),
    _city_unit("NY-PSGS", "南阳市排水公司", "Nanyang Drainage Company", "drainage"),
    _city_unit("NY-SLJ", "南阳市水利局", "Nanyang Water Resources Bureau", "water_rivers"),
    _city_unit("NY-ZJJ", "南阳市住房和城乡建设局", "Nanyang Housing and Construction Bureau", "housing_construction"),
    _city_unit("NY-JJZD", "南阳市公安局交警支队", "Nanyang Traffic Police Detachment", "traffic_police"),
    _city_unit("NY-GJGS", "南阳市公交公司", "Nanyang Public Transport Company", "public_transport"),
    _city_unit("NY-STHJJ", "南阳市生态环境局", "Nanyang Ecology and Environment Bureau", "environment"),
)

#: District counterparts: (code prefix, district code, Chinese name, English name).
DISTRICT_BUREAUS = (
    ("WC", "411302", "宛城区", "Wancheng"),
    ("WL", "411303", "卧龙区", "Wolong"),
)


def district_departments() -> list[DepartmentSpec]:
    """Each district's city administration bureau with its sanitation and law-enforcement units."""
    specs = []
    for prefix, code, name, name_en in DISTRICT_BUREAUS:
        bureau = f"{prefix}-CGJ"
        specs += [
            DepartmentSpec(
                bureau, f"{name}城市管理局", f"{name_en} District City Administration Bureau",
                "bureau", None, code,
            ),
            DepartmentSpec(
                f"{bureau}-HWS", f"{name}环卫所", f"{name_en} District Sanitation Station",
                "sanitation", bureau, code,
            ),
            DepartmentSpec(
                f"{bureau}-ZFDD", f"{name}城管执法大队", f"{name_en} District Law Enforcement Brigade",
                "law_enforcement", bureau, code,
            ),
        ]
    return specs


def street_offices(plan: CityPlan) -> list[DepartmentSpec]:
    """The offices (街道办事处, or a town's government) of the central core's subdistricts."""
    subdistricts = {area.code: area for area in plan.by_level("subdistrict")}
    specs = []
    for code in plan.core_subdistrict_codes:
        area = subdistricts[code]
        office, office_en = ("办事处", "office") if area.kind.name == "街道" else ("人民政府", "government")
        specs.append(
            DepartmentSpec(
                f"JD-{code}", f"{area.stem}{office}（生成）", f"{area.stem_en} {office_en} (generated)",
                "street_office", None, code,
            )
        )
    return specs


def demo_departments(plan: CityPlan) -> list[DepartmentSpec]:
    return [*CITY_DEPARTMENTS, *district_departments(), *street_offices(plan)]


def _area_ids(codes: set[str]) -> dict[str, int]:
    rows = db.session.execute(select(Area.code, Area.id).where(Area.code.in_(codes))).all()
    return {row.code: row.id for row in rows}


def ensure_departments(plan: CityPlan) -> tuple[int, int]:
    """Create or update the demo handling units by code; return (created, kept or updated)."""
    specs = demo_departments(plan)
    area_ids = _area_ids({spec.area_code for spec in specs})
    existing = {
        department.code: department
        for department in db.session.scalars(
            select(Department).where(Department.code.in_([spec.code for spec in specs]))
        )
    }
    created = 0
    for spec in specs:
        department = existing.get(spec.code)
        if department is None:
            department = Department(code=spec.code)
            db.session.add(department)
            existing[spec.code] = department
            created += 1
        department.name = spec.name
        department.name_en = spec.name_en
        department.kind = spec.kind
        department.parent = existing[spec.parent_code] if spec.parent_code else None
        department.area_id = area_ids[spec.area_code]
        department.active = True
    db.session.flush()
    return created, len(specs) - created


@dataclass(frozen=True)
class StaffSpec:
    username: str
    role: Role
    full_name: str
    area_code: str | None
    department_code: str | None
    scope: str


def demo_staff(plan: CityPlan) -> list[StaffSpec]:
    """One user for every role, scoped: the worker and chief to the most central community."""
    areas = {area.code: area for area in plan.areas}
    community = areas[plan.core_community_codes[0]]
    subdistrict = areas[community.parent_code]
    city = areas[CITY_CODE]
    departments = {department.code: department for department in CITY_DEPARTMENTS}

    def spec(
        username: str, role: Role, full_name: str, area: PlannedArea | None,
        department: str | None = None, duty: str = "",
    ) -> StaffSpec:
        scope = area.name if area is not None else departments[department].name
        return StaffSpec(username, role, full_name, area.code if area else None, department, duty + scope)

    return [
        spec("worker", Role.GRID_WORKER, "网格员 王小明（演示）", community, duty="责任网格 01, "),
        spec("chief", Role.AREA_LEAD, "网格长 李红（演示）", community, duty="网格长 grid chief, "),
        spec("hotline", Role.HOTLINE_OPERATOR, "话务员 张丽（演示）", city),
        spec("intake", Role.INTAKE_OPERATOR, "受理员 刘洋（演示）", city),
        spec("dispatcher", Role.DISPATCHER, "派遣员 陈刚（演示）", city),
        spec("shiftlead", Role.SHIFT_LEADER, "值班长 杨帆（演示）", city),
        spec("sanitation", Role.UNIT_STAFF, "环卫处 赵强（演示）", None, CITY_SANITATION),
        spec("arealead", Role.AREA_LEAD, "街道负责人 周敏（演示）", subdistrict),
        spec("leader", Role.LEADER, "领导 吴军（演示）", city),
        spec("evaluator", Role.EVALUATOR, "考核员 郑华（演示）", city),
        spec("admin", Role.ADMIN, "系统管理员 孙磊（演示）", city),
    ]


def demo_password(username: str) -> str:
    """The fixed, printed password of a demo user: it is a demo."""
    return f"demo-{username}"


def ensure_staff(plan: CityPlan) -> tuple[list[DemoLogin], int]:
    """Create the demo users, or bring existing ones back to their demo role, scope and password."""
    specs = demo_staff(plan)
    area_ids = _area_ids({spec.area_code for spec in specs if spec.area_code})
    department_codes = [spec.department_code for spec in specs if spec.department_code]
    department_ids = {
        row.code: row.id
        for row in db.session.execute(
            select(Department.code, Department.id).where(Department.code.in_(department_codes))
        )
    }
    logins, created = [], 0
    for spec in specs:
        password = demo_password(spec.username)
        user = db.session.scalar(select(User).where(User.username == spec.username))
        if user is None:
            create_user(
                spec.username, password, spec.role.value, spec.full_name,
                area_code=spec.area_code, department_code=spec.department_code,
            )
            created += 1
        else:
            user.role = spec.role.value
            user.full_name = spec.full_name
            user.area_id = area_ids.get(spec.area_code)
            user.department_id = department_ids.get(spec.department_code)
            user.active = True
            if not user.check_password(password):
                user.set_password(password)
        logins.append(DemoLogin(spec.username, password, spec.role, spec.scope))
    db.session.flush()
    return logins, created


def _block_order(min_x: np.ndarray, max_x: np.ndarray, min_y: np.ndarray, max_y: np.ndarray) -> np.ndarray:
    """Order unit grids in a snake through bands of BAND_ROWS rows, so consecutive runs are compact."""
    x = (min_x + max_x) / 2
    y = (min_y + max_y) / 2
    height = np.median(max_y - min_y)
    width = np.median(max_x - min_x)
    rows = np.floor((y.max() - y) / height + 0.5).astype(int)
    cols = np.floor((x - x.min()) / width + 0.5).astype(int)
    bands = rows // BAND_ROWS
    snake = np.where(bands % 2 == 0, cols, -cols)
    return np.lexsort((rows, snake, bands))


def ensure_responsibility_grids(
    plan: CityPlan, worker_username: str, chief_username: str
) -> tuple[int, int]:
    """Group the core communities' unit grids into responsibility grids of ~6–10 grids each.

    The most central community's first responsibility grid goes to the demo worker; the
    demo chief leads all of that community's responsibility grids.
    """
    areas = {area.code: area for area in plan.areas}
    unit_rank = db.session.scalar(select(AreaLevel.rank).where(AreaLevel.is_unit.is_(True)))
    communities = {
        community.code: community
        for community in db.session.scalars(
            select(Area).where(Area.code.in_(plan.core_community_codes), Area.active.is_(True))
        )
    }
    worker = db.session.scalar(select(User).where(User.username == worker_username))
    chief = db.session.scalar(select(User).where(User.username == chief_username))
    central = plan.core_community_codes[0]
    existing = {
        grid.code: grid
        for grid in db.session.scalars(
            select(ResponsibilityGrid).where(
                ResponsibilityGrid.community_id.in_([community.id for community in communities.values()])
            )
        )
    }
    created = kept = 0
    for code in sorted(communities):
        community = communities[code]
        grids = list(
            db.session.scalars(
                select(Area)
                .where(Area.parent_id == community.id, Area.level_rank == unit_rank, Area.active.is_(True))
                .order_by(Area.code)
            )
        )
        if not grids:
            continue
        bounds = {name: np.array([getattr(area, name) for area in grids]) for name in BOUND_COLUMNS}
        order = _block_order(**bounds)
        chunks = np.array_split(order, max(1, round(len(grids) / GRIDS_PER_RESPONSIBILITY_GRID)))
        stem = areas[code].stem
        for number, chunk in enumerate(chunks, start=1):
            rg_code = f"{code}R{number:02d}"
            grid = existing.get(rg_code)
            if grid is None:
                grid = ResponsibilityGrid(code=rg_code)
                db.session.add(grid)
                created += 1
            else:
                kept += 1
            grid.name = f"{stem} 责任网格{number:02d}（生成）"
            grid.community = community
            grid.unit_grids = sorted((grids[i] for i in chunk), key=lambda area: area.code)
            if code == central:
                grid.chief = chief
                if number == 1:
                    grid.worker = worker
    db.session.flush()
    return created, kept
