"""A tiny valid data set in the data contract, and helpers to write edited copies of it."""

from __future__ import annotations

import pytest

from crmlab.io import DataContractError, load

VALID = {
    "accounts": """\
account_id,name,account_type,tier,region,city,territory_id,beds,annual_outpatients,crm_flag
007,General Hospital,hospital,3A,East,Shanghai,T1,500,120000,x
A2,Corner Pharmacy,Pharmacy,,East,Shanghai,T1,,,
A3,Town Clinic,clinic,1,West,Chengdu,T2,10,5000,
""",
    "doctors": """\
doctor_id,account_id,specialty,title,department_beds,department_outpatients,name
D1,007,cardiology,chief,60,3000,Wang Wei
D2,007,cardiology,attending,60,3000,Li Na
D3,A3,general,,,,Zhang Min
""",
    "reps": """\
rep_id,territory_id,manager_id,hire_date,end_date
R1,T1,M1,2020-01-15,
R2,T2,M1,2021-06-01T09:30:00,2025-02-28
""",
    "rep_absences": """\
rep_id,start_date,end_date,reason
R1,2025-01-06,2025-01-10,training
R2,2025-02-03,,sick
""",
    "products": """\
product_id,brand,therapeutic_area,unit_price,is_competitor
P1,Cardiozol,cardio,12.5,false
P2,Rivalol,cardio,10,yes
""",
    "distributors": """\
distributor_id,level,parent_id,region
W1,1,,East
W2,2,W1,East
""",
    "visits": """\
visit_id,date,rep_id,doctor_id,product_id,channel,duration_min,status
V1,2025-03-03,R1,D1,P1,face_to_face,15,completed
V2,2025-03-04,R1,D2,,,10,
V3,2025-03-05,R2,D3,P1,remote,,planned
V4,2025-03-06 14:00:00,R1,D1,P1,phone,5,completed
""",
    "events": """\
event_id,event_type,start_date,end_date,product_id,region,account_id,cost
E1,seminar,2025-03-10,,P1,East,007,5000
""",
    "event_attendance": """\
event_id,doctor_id
E1,D1
E1,D2
""",
    "prescriptions": """\
doctor_id,product_id,month,trx,nrx
D1,P1,2025-03,12,3
D2,P1,2025-03-01,4,
D3,P2,2025-04,7.5,1
""",
    "sales": """\
date,account_id,product_id,units,distributor_id,revenue
2025-03-31,007,P1,100,W1,1250
2025-03-31,A2,P1,-5,W2,-62.5
2025-03-31,A3,P1,20,,250
""",
    "shipments": """\
date,distributor_id,product_id,units
2025-03-01,W1,P1,200
2025-03-15,W2,P1,-10
""",
    "inventory": """\
date,distributor_id,product_id,units_on_hand
2025-03-31,W1,P1,80
2025-03-31,W2,P1,0
""",
    "targets": """\
territory_id,rep_id,product_id,month,target_units
T1,,P1,2025-01,100
T2,,P1,2025-02,50
""",
}


def write_tables(path, tables=None, encoding="utf-8", **changes):
    """Write the valid tables as CSV into ``path``; ``table=None`` leaves a file out,
    ``table="text"`` replaces its content."""
    tables = {**(tables or VALID), **changes}
    for table, text in tables.items():
        if text is not None:
            (path / f"{table}.csv").write_text(text, encoding=encoding)
    return path


def edited(table, old, new):
    """The valid text of ``table`` with one edit (the edit must apply)."""
    assert old in VALID[table]
    return VALID[table].replace(old, new, 1)


def header_only(table):
    return VALID[table].splitlines()[0] + "\n"


def error_text(data_dir, **kwargs):
    with pytest.raises(DataContractError) as caught:
        load(data_dir, **kwargs)
    return str(caught.value)
