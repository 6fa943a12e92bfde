"""Demo users: one for each role and scope, with a password `make run` prints."""

from django.db import transaction

from accounts.choices import Role
from accounts.models import User
from regions.models import Region

DEMO_PASSWORD = "Wengang-2021"

# username, full name, role, region code
DEMO_USERS = [
    ("sheng", "省人社厅 王审批", Role.PROVINCE, "130000"),
    ("sheng2", "省人社厅 李复核", Role.PROVINCE, "130000"),
    ("shijiazhuang", "石家庄市人社局 张复核", Role.CITY, "130100"),
    ("zhangjiakou", "张家口市人社局 赵复核", Role.CITY, "130700"),
    ("chengde", "承德市人社局 孙复核", Role.CITY, "130800"),
    ("cangzhou", "沧州市人社局 周复核", Role.CITY, "130900"),
    ("hengshui", "衡水市人社局 吴复核", Role.CITY, "131100"),
    ("luquan", "鹿泉区人社专员 刘专员", Role.DISTRICT, "130110"),
    ("xunhuan", "循环化工园区人社专员 陈专员", Role.DISTRICT, "130172"),
    ("cangzhou_yunhe", "沧州运河区人社专员 杨专员", Role.DISTRICT, "130903"),
    ("taocheng", "衡水桃城区人社专员 黄专员", Role.DISTRICT, "131102"),
    ("kangbao", "康保县人社专员 郑专员", Role.DISTRICT, "130723"),
    ("dingzhou", "定州市人社专员 冯专员", Role.DISTRICT, "130682"),
    ("xinji", "辛集市人社专员 何专员", Role.DISTRICT, "130181"),
    ("shuangqiao", "承德双桥区人社专员 许专员", Role.DISTRICT, "130802"),
    ("qiaodong_zjk", "张家口桥东区人社专员 韩专员", Role.DISTRICT, "130702"),
]
DEMO_EMPLOYER_AGENTS = [
    # username, full name, employer credit code (created by beneficiaries' demo step)
    ("qiye_luquan", "鹿泉 冀通建材 经办人", "luquan_private"),
    ("qiye_gree", "石家庄格力 经办人", "gree"),
]


@transaction.atomic
def demo_users() -> list[User]:
    users = []
    for username, full_name, role, code in DEMO_USERS:
        users.append(_user(username, full_name, role, Region.objects.get(code=code)))
    for username, full_name, _key in DEMO_EMPLOYER_AGENTS:
        users.append(_user(username, full_name, Role.EMPLOYER, None))
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", "admin@example.invalid", DEMO_PASSWORD, role=Role.ADMIN)
    return users


def _user(username: str, full_name: str, role: str, region: Region | None) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"first_name": full_name, "role": role, "region": region, "can_view_pii": role == Role.DISTRICT},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


DEMO_STEPS = [("演示用户", demo_users)]
