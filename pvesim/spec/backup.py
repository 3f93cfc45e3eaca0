"""Declarations: vzdump and scheduled backup jobs.

``JOB`` holds what a vzdump call and a backup job share; jobs add their schedule (``SCHEDULE``).
"""

from pvesim.spec.types import Method

JOB_ID = "str len:..50 re:\\S+"

JOB = {
    "all": "?bool =0",
    "bwlimit": "?int 0.. =0",
    "compress": "?enum:0|1|gzip|lzo|zstd =0",
    "dumpdir": "?str",
    "exclude": "?str fmt:pve-vmid-list",
    "exclude-path": "?array",
    "fleecing": "?str fmt:backup-fleecing",
    "ionice": "?int 0..8 =7",
    "lockwait": "?int 0.. =180",
    "mailnotification": "?enum:always|failure =always",
    "mailto": "?str fmt:email-or-username-list",
    "maxfiles": "?int 1..",
    "mode": "?enum:snapshot|suspend|stop =snapshot",
    "node": "?str fmt:pve-node",
    "notes-template": "?str len:..1024 req:storage",
    "notification-mode": "?enum:auto|legacy-sendmail|notification-system =auto",
    "pbs-change-detection-mode": "?enum:legacy|data|metadata",
    "performance": "?str fmt:backup-performance",
    "pigz": "?int =0",
    "pool": "?str",
    "protected": "?bool req:storage",
    "prune-backups": "?str fmt:prune-backups =keep-all=1",
    "quiet": "?bool =0",
    "remove": "?bool =1",
    "script": "?str",
    "stdexcludes": "?bool =1",
    "stop": "?bool =0",
    "stopwait": "?int 0.. =10",
    "storage": "?str fmt:pve-storage-id",
    "tmpdir": "?str",
    "vmid": "?str fmt:pve-vmid-list",
    "zstd": "?int =1",
}
SCHEDULE = {
    "comment": "?str len:..512",
    "enabled": "?bool =1",
    "repeat-missed": "?bool =0",
    "schedule": "?str len:..128 fmt:pve-calendar-event",
    "starttime": "?str re:\\d{1,2}:\\d{1,2}",
}
DOW = "?str fmt:pve-day-of-week-list req:starttime"

METHODS = [
    Method(
        "POST",
        "/nodes/{node}/vzdump",
        {**JOB, "job-id": "?str len:..50 re:\\S+", "stdout": "?bool"},
    ),
    Method("GET", "/cluster/backup", {}),
    Method(
        "POST",
        "/cluster/backup",
        {
            **JOB,
            **SCHEDULE,
            "id": "?str fmt:pve-configid",
            "dow": DOW + " =mon,tue,wed,thu,fri,sat,sun",
        },
    ),
    Method("GET", "/cluster/backup/{id}", {"id": JOB_ID}),
    Method(
        "PUT",
        "/cluster/backup/{id}",
        {**JOB, **SCHEDULE, "id": JOB_ID, "dow": DOW, "delete": "?str fmt:pve-configid-list"},
    ),
    Method("DELETE", "/cluster/backup/{id}", {"id": JOB_ID}),
    Method("GET", "/cluster/backup-info/not-backed-up", {}),
]
