"""A working model on first start, with no manual step.

The core generates its own demo tickets and calls::

    from classifier.demo import ensure_model
    ensure_model(model_path, pairs=lambda: [(content, unit_code), ...])

which trains (a few hundred short texts: ~1-3 s) only when there is no usable
model at ``model_path``. Without ``pairs`` it falls back to :func:`synthetic_pairs`,
a small set of hotline-like texts written for this project (no outside data).
"""
from __future__ import annotations

import os
import random
from typing import Callable, Iterable

from .model import ModelLoadError, TextClassifier
from .training import train_from_pairs

# unit -> (subjects, problems): short phrases a caller might use
UNITS: dict[str, tuple[list[str], list[str]]] = {
    "市水务局": (["自来水", "水管", "供水管网", "水表"], ["停水好几天", "水压太低", "水管爆裂漏水", "水质发黄有异味"]),
    "供电公司": (["小区供电", "电线", "变压器", "电表"], ["经常停电", "电压不稳", "电线垂落有危险", "电费计量不准"]),
    "燃气公司": (["天然气", "燃气管道", "燃气表"], ["有燃气泄漏的味道", "开户一直没人来装", "燃气费收费不合理"]),
    "市城管局": (["占道经营", "流动摊贩", "违规广告牌", "夜市"], ["堵塞人行道", "晚上噪音很大", "占用消防通道", "乱摆乱放"]),
    "市住建局": (["物业公司", "小区电梯", "维修基金", "开发商"], ["电梯经常坏", "物业不作为", "延期交房", "房屋漏水不维修"]),
    "自然资源和规划局": (["违章建筑", "楼顶加建", "不动产证", "规划方案"], ["私自加盖", "迟迟办不下来", "规划变更没有公示"]),
    "市环保局": (["工厂排污", "油烟", "河道污水", "扬尘"], ["气味刺鼻", "污水直排河里", "晚上偷偷排放", "粉尘很大"]),
    "人社局": (["拖欠工资", "劳动合同", "农民工工资", "社保缴费"], ["老板拖欠工资不给", "公司不签劳动合同", "工地欠薪半年"]),
    "社保中心": (["养老保险", "社保卡", "退休金", "失业保险"], ["养老金没有按时发放", "社保卡补办很慢", "退休待遇核算有误"]),
    "医保局": (["医保报销", "医保卡", "异地就医", "门诊费用"], ["报销比例太低", "异地就医备案办不了", "医保卡不能用"]),
    "卫健委": (["医院", "卫生院", "疫苗接种", "医生"], ["看病排队太久", "医生态度恶劣", "收费不透明", "疫苗预约不上"]),
    "教育局": (["学校", "幼儿园", "校外培训机构", "入学"], ["乱收费", "划片入学不合理", "培训机构跑路不退费", "校车超载"]),
    "市场监管局": (["超市", "餐馆", "食品安全", "网购商品"], ["卖过期食品", "虚假宣传", "缺斤少两", "预付卡不退钱"]),
    "交通运输局": (["公交车", "出租车", "网约车", "客运站"], ["公交车不按站停", "出租车拒载绕路", "班次太少", "司机态度差"]),
    "交警支队": (["红绿灯", "违章停车", "路口", "交通拥堵"], ["红绿灯坏了", "车辆乱停占道", "早晚高峰严重拥堵", "需要增设斑马线"]),
    "公路局": (["国道", "县道", "路面", "桥梁"], ["路面坑洼", "桥梁护栏损坏", "道路塌陷", "修路迟迟不完工"]),
    "市政工程处": (["路灯", "井盖", "下水道", "人行道砖"], ["路灯不亮", "井盖丢失", "下水道堵塞", "人行道砖松动"]),
    "环卫处": (["垃圾", "垃圾桶", "公厕", "街道卫生"], ["垃圾没人清运", "垃圾桶满了发臭", "公厕太脏", "清扫不及时"]),
    "园林绿化局": (["行道树", "公园", "绿化带", "树枝"], ["树枝挡住窗户", "公园设施损坏", "绿化带被毁", "枯树有倒伏危险"]),
    "民政局": (["低保", "养老院", "婚姻登记", "殡葬"], ["低保申请被拒", "养老院条件差", "婚姻登记预约难", "殡葬收费太高"]),
    "残联": (["残疾证", "残疾人补贴", "无障碍通道"], ["残疾证办理慢", "补贴没有到账", "无障碍通道被占用"]),
    "公积金中心": (["住房公积金", "公积金贷款", "公积金提取"], ["提取手续复杂", "贷款审批太慢", "单位不给缴公积金"]),
    "税务局": (["发票", "个人所得税", "税务登记"], ["发票开不出来", "个税退税有问题", "办税大厅排队太久"]),
    "公安局户政": (["户口", "身份证", "居住证"], ["户口迁移办不了", "身份证补办太慢", "居住证要求不合理"]),
    "文旅局": (["景区", "旅行社", "图书馆", "体育场馆"], ["景区门票乱涨价", "旅行社强制购物", "图书馆开放时间太短", "体育场馆不开放"]),
    "农业农村局": (["农田", "种子", "化肥", "养殖场"], ["假种子导致减产", "化肥质量差", "养殖场臭味扰民", "农田被占用"]),
    "水利局": (["河堤", "水库", "灌溉渠", "防汛"], ["河堤有缺口", "灌溉渠堵塞", "防汛设施损坏", "水库违规钓鱼"]),
    "应急管理局": (["安全生产", "烟花爆竹", "危化品", "工厂"], ["安全隐患很大", "违规存放危化品", "私自销售烟花爆竹"]),
    "消防救援支队": (["消防通道", "消防栓", "灭火器"], ["消防通道被堵", "消防栓没水", "灭火器过期"]),
    "街道办事处": (["社区", "居委会", "楼道", "小区门禁"], ["楼道堆满杂物", "社区活动室不开放", "门禁坏了没人管", "邻里纠纷调解"]),
}

PLACES = ["东城区", "西城区", "南湖街道", "北山镇", "人民路", "解放大道", "幸福小区", "建设路", "滨江花园", "城南新区"]
OPENERS = ["您好，", "我要反映，", "投诉：", "请问", "", "求助，", "我家在"]
CLOSERS = ["希望尽快处理。", "请相关部门解决。", "已经反映多次了。", "谢谢！", "", "影响群众生活。"]


def synthetic_pairs(per_unit: int = 12, seed: int = 0, units: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """Short hotline-like (text, unit) pairs for demos and tests (~30 units)."""
    rng = random.Random(seed)
    chosen = list(units) if units is not None else list(UNITS)
    pairs = []
    for unit in chosen:
        subjects, problems = UNITS[unit]
        for _ in range(per_unit):
            text = (rng.choice(OPENERS) + rng.choice(PLACES) + rng.choice(subjects)
                    + rng.choice(problems) + "，" + rng.choice(CLOSERS))
            pairs.append((text, unit))
    rng.shuffle(pairs)
    return pairs


def ensure_model(model_path: str | os.PathLike,
                 pairs: Iterable[tuple[str, str]] | Callable[[], Iterable[tuple[str, str]]] | None = None,
                 folds: int = 5, user_words: Iterable[str] = ()) -> dict | None:
    """Train and save a model at ``model_path`` unless a usable one is there.

    ``pairs``: (text, label) pairs or a callable returning them (only called when
    training is needed); default :func:`synthetic_pairs`. Returns the training
    report, or None when the existing model was kept.
    """
    try:
        TextClassifier.load(model_path)
        return None
    except ModelLoadError:
        pass
    if callable(pairs):
        pairs = pairs()
    if pairs is None:
        pairs = synthetic_pairs()
    return train_from_pairs(pairs, model_path, folds=folds, user_words=user_words)
