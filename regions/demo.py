from regions.services import regions_load

DEMO_STEPS = [("区划（河北省及全国区划代码）", regions_load)]
