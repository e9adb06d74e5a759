// Classic single-ended two-stage Miller OTA with a PMOS input pair,
// NMOS mirror load, NMOS common-source second stage, series RC compensation.
subckt miller2_pin VINP VINM VOUT IBP VDD VSS
M1 (d1 VINM s VDD) pch l=0.5u w=20u m=1 nf=4
M2 (o1 VINP s VDD) pch l=0.5u w=20u m=1 nf=4
M3 (d1 d1 VSS VSS) nch l=1u w=5u m=1 nf=2
M4 (o1 d1 VSS VSS) nch l=1u w=5u m=1 nf=2
M5 (s IBP VDD VDD) pch l=1u w=20u m=2 nf=4
M6 (VOUT o1 VSS VSS) nch l=0.5u w=40u m=1 nf=8
M7 (VOUT IBP VDD VDD) pch l=1u w=40u m=4 nf=4
CC (o1 z) mimcap w=20u l=20u
RZ (z VOUT) rppolywo l=5u w=1u
M8 (IBP IBP VDD VDD) pch l=1u w=10u m=1 nf=2
ends miller2_pin
