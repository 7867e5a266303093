"""The demo bureau: 市城乡规划管理局 (City Planning Bureau), from ``DEMO.md``.

The sandbox, the end-to-end tests and ``examples/org.yaml`` all show this bureau. Its data is
kept here once; :func:`demo_org_yaml` renders it as an org file
(``bot.domain.rules.org_file``) whose milestone dates are counted in working days from
``today``, so the lights tell the DEMO.md stories on any day:

==========  ====================  ===============================================================
KP-001      pre-intervention      earlier steps done; next milestone 20 working days ahead: green
KP-002      in progress           "relocation site agreed" due 1 working day ahead: yellow
KP-003      in progress           next milestone 6 working days ahead: green
KP-004      in progress           meeting-topic material 3 working days overdue: red
KP-005      done                  every milestone done
KP-006      done, needs follow-up a follow-up check 10 working days ahead
==========  ====================  ===============================================================

``examples/org.yaml`` is this file rendered for :data:`EXAMPLE_TODAY`, with comments (a test
checks that the two agree). :data:`DEMO_USERS` and :data:`DEMO_CHATS` are the Telegram side:
the users and supergroups the sandbox creates in the Bot API emulator, with the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import yaml

from bot.domain.rules.calendar import WorkCalendar

EXAMPLE_TODAY = date(2026, 11, 23)  # the "today" examples/org.yaml was rendered for (a Monday)


# --------------------------------------------------------------------------- the Telegram side


@dataclass(frozen=True)
class DemoUser:
    telegram_id: int
    first_name: str
    username: str | None
    language: str  # the language_code the person's Telegram app reports
    staff: bool = True  # False: not in the org file (the applicant)


@dataclass(frozen=True)
class DemoChat:
    chat_id: int
    title: str
    members: tuple[str, ...]  # DEMO_USERS keys
    kind: str = "project"  # the org file's chat kind: project | leaders | supervision
    project: str | None = None  # the project code, for a project's work group
    type: Literal["group", "supergroup"] = "supergroup"  # the Telegram chat type


DEMO_USERS: dict[str, DemoUser] = {
    "chen": DemoUser(100001, "陈局长", "chen_director", "zh-hans"),
    "li": DemoUser(100002, "李副局长", "li_deputy", "zh-hans"),
    "he": DemoUser(100003, "何副局长", "he_deputy", "zh-hans"),
    "wang": DemoUser(100004, "王建国", None, "zh-hans"),
    "zhao": DemoUser(100005, "赵敏", "zhao_min", "zh-hans"),
    "sun": DemoUser(100006, "孙立", "sun_li", "zh-hans"),
    "zhou": DemoUser(100007, "周正", "zhou_zheng", "zh-hans"),
    "liuxiao": DemoUser(100008, "刘晓", "liu_xiao", "zh-hans"),
    "zhangfan": DemoUser(100009, "张帆", "zhang_fan", "zh-hans"),
    "wujing": DemoUser(100010, "吴静", "wu_jing", "zh-hans"),
    "zheng": DemoUser(100011, "郑引导", "zheng_guide", "zh-hans"),
    "lin": DemoUser(100012, "林引导", "lin_guide", "zh-hans"),
    "qian": DemoUser(100013, "钱主任", "qian_office", "zh-hans"),
    "ma": DemoUser(100014, "马工", "ma_it", "en"),
    # The districts' and the township's people (雁城区, 珠晖区 and its 东阳渡镇).
    "dong": DemoUser(100016, "董局长", "dong_yancheng", "zh-hans"),
    "feng": DemoUser(100017, "冯股长", "feng_yancheng", "zh-hans"),
    "gu": DemoUser(100018, "顾晨", "gu_chen", "zh-hans"),
    "pan": DemoUser(100019, "潘局长", "pan_zhuhui", "zh-hans"),
    "tang": DemoUser(100020, "唐主任", "tang_dongyang", "zh-hans"),
    "xu": DemoUser(100021, "许乡", "xu_dongyang", "zh-hans"),
    # The applicant: 天立建设's contact, who checks progress with a query code.
    "huang": DemoUser(100015, "黄先生", "huang_tianli", "zh-hans", staff=False),
}


# --------------------------------------------------------------------------- the organisation


@dataclass(frozen=True)
class _Unit:
    code: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class _Section:
    code: str
    name: str
    head: str
    unit: str = "city"


@dataclass(frozen=True)
class _Person:
    key: str  # a DEMO_USERS key
    section: str
    roles: tuple[str, ...]
    backup: str | None = None
    locale: str | None = None  # only where it differs from the Telegram app's language
    unit: str | None = None  # only where it differs from the section's unit


@dataclass(frozen=True)
class _Milestone:
    title: str
    due: int  # working days from today (negative: before today)
    done: int | None = None


@dataclass(frozen=True)
class _Project:
    code: str
    name: str
    status: str
    leader: str
    section: str
    handlers: tuple[str, ...]
    guides: tuple[str, ...]
    work_plan: str
    follow_through: str
    milestones: tuple[_Milestone, ...]
    chat_title: str
    green_channel: bool = False


# The bureau is the city's; it guides two district branches, and one district's township
# (the seeds' 市 → 县（市、区） → 乡镇). Everyone sees their unit and everything below it.
UNITS = (
    _Unit("city", "市城乡规划管理局", None),
    _Unit("yancheng", "雁城区分局", "city"),
    _Unit("zhuhui", "珠晖区分局", "city"),
    _Unit("dongyang", "东阳渡镇", "zhuhui"),
)

SECTIONS = (
    _Section("office", "局办公室", "qian"),  # runs the lights and sends urge notices
    _Section("building", "建筑工程规划管理科", "wang"),
    _Section("municipal", "市政规划科", "zhao"),
    _Section("legal", "法规审批科", "sun"),
    _Section("supervision", "督查室", "zhou"),
    _Section("yc-planning", "雁城区规划股", "feng", unit="yancheng"),
    _Section("zh-planning", "珠晖区规划股", "pan", unit="zhuhui"),
    _Section("dy-office", "东阳渡镇规划建设办", "tang", unit="dongyang"),
)

PEOPLE = (
    _Person("chen", "office", ("director",)),
    _Person("li", "office", ("leader",), backup="he"),  # A post; 何副局长 is the B post
    _Person("he", "office", ("leader",), backup="li"),
    _Person("wang", "building", ("handler",)),
    _Person("zhao", "municipal", ("handler",)),
    _Person("sun", "legal", ("handler",)),
    _Person("zhou", "supervision", ("supervisor",)),
    _Person("liuxiao", "municipal", ("handler",)),
    _Person("zhangfan", "building", ("handler",)),
    _Person("wujing", "legal", ("handler",)),
    _Person("zheng", "building", ("guide",)),
    _Person("lin", "legal", ("guide",)),
    _Person("qian", "office", ("supervisor",)),
    _Person("ma", "office", ("admin",), locale="en"),
    _Person("dong", "yc-planning", ("leader",), backup="feng"),
    _Person("feng", "yc-planning", ("handler",)),
    _Person("gu", "yc-planning", ("handler",)),
    # 珠晖区分局's head: the district's director, who decides its township's permits too
    _Person("pan", "zh-planning", ("director", "handler"), backup="tang"),
    _Person("tang", "dy-office", ("handler",)),
    _Person("xu", "dy-office", ("handler",)),
)

PROJECTS = (
    _Project(
        "KP-001",
        "天立旗舰(国际)学校选址",
        "pre_intervention",
        "li",
        "building",
        ("zhangfan",),
        ("zheng",),
        work_plan="正式报建前提前介入：选址咨询备案 → 专家评审 → 选址原则批复 → 正式报建受理。",
        follow_through="经办人每个节点在项目群汇报（附无人机航拍照片），分管领导在群内即时审定；"
        "规划引导员全程指导报建单位准备材料。",
        milestones=(
            _Milestone("选址咨询备案", -6, done=-6),
            _Milestone("专家评审", -5, done=-5),
            _Milestone("选址原则批复", -1, done=-1),
            _Milestone("正式报建受理", 20),
        ),
        chat_title="天立旗舰学校选址工作群",
        green_channel=True,
    ),
    _Project(
        "KP-002",
        "天台山公园",
        "in_progress",
        "li",
        "municipal",
        ("liuxiao",),
        ("zheng",),
        work_plan="公园范围内的微波站须迁建：先确定迁建选址，再报批公园总体方案，"
        "最后核发建设工程规划许可。",
        follow_through="市政规划科牵头协调微波站产权单位，经办人每两个工作日在项目群通报进展；"
        "临近时限黄灯提醒经办人和科长。",
        milestones=(
            _Milestone("现状地形及管线资料移交", -10, done=-11),
            _Milestone("微波站迁建选址确定", 1),
            _Milestone("公园总体方案批复", 12),
            _Milestone("建设工程规划许可", 25),
        ),
        chat_title="天台山公园工作群",
    ),
    _Project(
        "KP-003",
        "康乐公园",
        "in_progress",
        "he",
        "municipal",
        ("liuxiao",),
        ("lin",),
        work_plan="提前向设计单位提供地形和管线资料，设计方案一次成稿；方案审查与规划许可按时限推进。",
        follow_through="经办人按节点在项目群汇报，分管领导每周在群内查看进度。",
        milestones=(
            _Milestone("地形和管线资料提供给设计单位", -8, done=-9),
            _Milestone("设计方案初稿", 6),
            _Milestone("设计方案审查", 15),
            _Milestone("建设工程规划许可", 30),
        ),
        chat_title="康乐公园工作群",
    ),
    _Project(
        "KP-004",
        "雁城危房重建",
        "in_progress",
        "li",
        "building",
        ("zhangfan", "wujing"),
        ("lin",),
        work_plan="危房重建议题：经办人准备议题材料（5个工作日）→ 分管领导审核（A/B岗或签，"
        "2个工作日）→ 局长办公会审定 → 重建方案批复。",
        follow_through="超期亮红灯：督查室在时限届满后5日内发出催办通知书，科长亲自跟进并书面说明"
        "延误原因；情况通报，催办次数计入年度考核。",
        milestones=(
            _Milestone("危房鉴定报告收件", -15, done=-14),
            _Milestone("局长办公会议题材料报送", -3),
            _Milestone("局长办公会审定", 5),
            _Milestone("重建方案批复", 20),
        ),
        chat_title="雁城危房重建工作群",
    ),
    _Project(
        "KP-005",
        "前后科技景观规划",
        "done",
        "li",
        "legal",
        ("wujing",),
        ("lin",),
        work_plan="景观规划方案报审 → 分管领导审定 → 方案批复。",
        follow_through="周五下午经办人把方案发到项目群，分管领导不在办公室，当天在手机上审定通过，"
        "不用等到周一。",
        milestones=(
            _Milestone("景观规划方案报审", -11, done=-11),
            _Milestone("分管领导审定", -9, done=-11),  # approved from the phone the same day
            _Milestone("方案批复", -7, done=-10),
        ),
        chat_title="前后科技景观规划工作群",
    ),
    _Project(
        "KP-006",
        "娇子大道地段规划核实",
        "done_follow_up",
        "he",
        "building",
        ("zhangfan",),
        ("zheng",),
        work_plan="规划核实：现场测量 → 对照规划许可核实 → 出具核实意见。",
        follow_through="现场发现规划与建设不一致，经办人与建设单位现场协调整改；整改完成后复核，"
        "问题清零前保持跟进。",
        milestones=(
            _Milestone("现场测量", -20, done=-20),
            _Milestone("出具核实意见", -15, done=-16),
            _Milestone("整改情况复核", 10),
        ),
        chat_title="娇子大道规划核实工作群",
    ),
    _Project(
        "KP-007",
        "雁城老街改造",
        "in_progress",
        "dong",
        "yc-planning",
        ("gu",),
        (),
        work_plan="老街立面改造方案：现状测绘 → 方案征求意见 → 区分局审定。",
        follow_through="经办人每周在项目群汇报，区分局分管领导在群内审定；市局可随时查看。",
        milestones=(
            _Milestone("现状测绘", -8, done=-8),
            _Milestone("方案征求意见", -2),
            _Milestone("区分局审定", 10),
        ),
        chat_title="雁城老街改造工作群",
    ),
    _Project(
        "KP-008",
        "东阳渡镇卫生院迁建",
        "in_progress",
        "pan",
        "dy-office",
        ("xu",),
        (),
        work_plan="乡镇卫生院迁建：选址意见 → 规划条件 → 乡村建设规划许可。",
        follow_through="镇规划建设办经办，珠晖区分局审定，逾期由市局督查室通报。",
        milestones=(
            _Milestone("选址意见", -4, done=-4),
            _Milestone("规划条件", 1),
            _Milestone("乡村建设规划许可", 15),
        ),
        chat_title="东阳渡镇卫生院迁建工作群",
    ),
)

@dataclass(frozen=True)
class _Item:
    """A supervision item (督查事项) of the demo: assigned ``assigned`` working days ago (a
    negative offset), due ``due`` (working days from the assignment) or on the working day
    ``due_on`` from today; urged ``urged`` working days ago, if at all."""

    title: str
    requirement: str
    assignee: str  # a section code or a person key
    assigned: int
    due: int | None = None
    due_on: int | None = None
    urged: int | None = None


DEMO_ITEMS = (
    # Red: the seed's own story, a section more than two weeks on the meeting material.
    _Item("雁城危房重建议题材料报送",
          "业务会研究后，须在5个工作日内形成详细议题材料，报请专委会审议。",
          "building", assigned=-8, due=5, urged=-2),
    # Yellow: due tomorrow.
    _Item("天台山公园微波站迁建协调进展", "报告微波站产权单位协调情况及迁建选址确定时间。",
          "liuxiao", assigned=-2, due_on=1),
)

LEADERS_CHAT = "leaders"
SUPERVISION_CHAT = "supervision"


def _project_members(project: _Project) -> tuple[str, ...]:
    """Who sits in a project's work group: leader, B post, handlers, guides, section head,
    and the administrator who set the group up."""
    backup = next((p.backup for p in PEOPLE if p.key == project.leader), None)
    head = next(s.head for s in SECTIONS if s.code == project.section)
    keys = (project.leader, backup, *project.handlers, *project.guides, head, "ma")
    return tuple(dict.fromkeys(k for k in keys if k is not None))


DEMO_CHATS: dict[str, DemoChat] = {
    **{
        project.code: DemoChat(
            -1001000000000 - int(project.code[3:]),
            project.chat_title,
            _project_members(project),
            project=project.code,
        )
        for project in PROJECTS
    },
    LEADERS_CHAT: DemoChat(
        -1001000000100, "局领导群", ("chen", "li", "he", "qian", "ma"), kind="leaders"
    ),
    SUPERVISION_CHAT: DemoChat(
        -1001000000200, "督查室", ("zhou", "qian", "chen", "ma"), kind="supervision"
    ),
}


# --------------------------------------------------------------------------- rendering


def working_day(today: date, calendar: WorkCalendar, offset: int) -> date:
    """The working day ``offset`` working days from ``today``.

    0 is today's effective day (today if it is a working day, else the next one); +n is the
    n-th working day after it (``calendar.deadline``); -n the n-th working day before today.
    """
    if offset >= 0:
        start = datetime.combine(today, calendar.office_hours.opening, tzinfo=calendar.tz)
        return calendar.deadline(start, offset).due_day
    day, left = today, -offset
    while left:
        day -= timedelta(days=1)
        if calendar.is_workday(day):
            left -= 1
    return day


def demo_org(today: date, calendar: WorkCalendar) -> dict[str, Any]:
    """The demo org as plain data, in the org file's shape."""

    def day(offset: int) -> date:
        return working_day(today, calendar, offset)

    people = []
    for person in PEOPLE:
        user = DEMO_USERS[person.key]
        entry: dict[str, Any] = {
            "key": person.key,
            "name": user.first_name,
            "telegram_id": user.telegram_id,
        }
        if user.username:
            entry["username"] = user.username
        if person.locale:
            entry["locale"] = person.locale
        entry["section"] = person.section
        entry["roles"] = list(person.roles)
        if person.backup:
            entry["backup"] = person.backup
        people.append(entry)
    chats = []
    for chat in DEMO_CHATS.values():
        entry = {"telegram_id": chat.chat_id, "kind": chat.kind, "title": chat.title}
        if chat.project:
            entry["project"] = chat.project
        chats.append(entry)
    projects = []
    for project in PROJECTS:
        milestones = []
        for milestone in project.milestones:
            item: dict[str, Any] = {"title": milestone.title, "due": day(milestone.due)}
            if milestone.done is not None:
                item["done"] = day(milestone.done)
            milestones.append(item)
        projects.append(
            {
                "code": project.code,
                "name": project.name,
                "status": project.status,
                "leader": project.leader,
                "section": project.section,
                "handlers": list(project.handlers),
                "guides": list(project.guides),
                "work_plan": project.work_plan,
                "follow_through": project.follow_through,
                "green_channel": project.green_channel,
                "milestones": milestones,
            }
        )
    units = [{"code": u.code, "name": u.name, **({"parent": u.parent} if u.parent else {})}
             for u in UNITS]
    sections = [{"code": s.code, "name": s.name, "head": s.head,
                 **({"unit": s.unit} if s.unit != UNITS[0].code else {})} for s in SECTIONS]
    return {
        "units": units,
        "sections": sections,
        "people": people,
        "chats": chats,
        "projects": projects,
    }


def demo_org_yaml(today: date, calendar: WorkCalendar) -> str:
    """The demo org file, with milestone dates counted from ``today`` in working days."""
    header = (
        f"# The demo bureau (DEMO.md), rendered for {today.isoformat()}:"
        " milestone dates are relative to that day.\n"
    )
    body = yaml.safe_dump(
        demo_org(today, calendar),
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=None,
        width=100,
    )
    return header + body
