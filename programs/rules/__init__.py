"""The rule engine's language: what a SubsidyRule may say, and how it becomes SQL.

A rule's `conditions` are structured data (see SubsidyRule's docstring). The package

* validates a rule's data against its programme (`validate.rule_validate`, with the
  conditions in `conditions.conditions_validate`), with Chinese messages per field;
* compiles a rule to a SQL fragment over a registration `r` joined with its person
  `p`, its employer `e` and its stay region `d` (`compile.rule_compile`): a WHERE clause,
  the amount expression and the "why" (reason) expression;
* turns a set of rules into the statements that grant them (`grants.grants_sql`): the
  computation in disbursements.entitlements runs these set-based (INSERT … SELECT),
  never per worker, and the preview (`preview.rule_preview`) counts them;
* evaluates the same rule in Python for one registration (`evaluate.rule_evaluate`):
  the independent oracle the property-based tests compare the SQL with.

Hukou "outside" is relative to the stay district, along the *reporting* tree
(regions.Region): outside the county = the hukou code differs from the stay district's
code (a functional zone such as 130172 issues no hukou, so everybody staying there is
outside the county); outside the city = the hukou belongs to another reporting city,
where a city's hukou codes are its 4-digit prefix (130172 → 1301) minus the codes that
report elsewhere (辛集 130181 and 定州 130682 report straight to the province and are
their own city; 容城/安新/雄县 belong to 雄安新区 133100); outside the province = another
2-digit prefix. `Person.hukou_code` is already the *current* code (an old 鹿泉市 130185
number counts as 130110), so a prefix comparison is enough (`regions`).

This app sits below beneficiaries and may not import it: the tables of Registration,
Person and Employer are looked up through the app registry, and the vocabularies of
ownership and category are repeated here (`conditions`; a test checks they match
beneficiaries.choices).
"""
