from django.db import models


class Ownership(models.TextChoices):
    STATE = "state", "国有"
    COLLECTIVE = "collective", "集体"
    PRIVATE = "private", "私营/非公"
    INDIVIDUAL = "individual", "个体工商户"
    FOREIGN = "foreign", "外资"
    CONSTRUCTION = "construction", "施工项目"
    OTHER = "other", "其他"


class EmployerStatus(models.TextChoices):
    PENDING = "pending", "待审核"
    VERIFIED = "verified", "已核实"
    RETURNED = "returned", "已退回"


class Category(models.TextChoices):
    MIGRANT = "migrant", "外来务工人员"
    HARDSHIP = "hardship", "困难群众"
    UNEMPLOYED = "unemployed", "失业人员"


class RegistrationStatus(models.TextChoices):
    ACTIVE = "active", "有效"
    CONFLICT = "conflict", "重复登记待处理"
    REJECTED = "rejected", "已驳回"
    WITHDRAWN = "withdrawn", "已撤销"


class Source(models.TextChoices):
    FORM = "form", "表单登记"
    IMPORT = "import", "批量导入"
    DEMO = "demo", "演示数据"


class Sex(models.TextChoices):
    MALE = "M", "男"
    FEMALE = "F", "女"
