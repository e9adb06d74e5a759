// Single-ended two-stage OTA with a rail-to-rail input (NMOS and PMOS pairs) summed in a
// folded cascode with a low-voltage cascode PMOS mirror, PMOS common-source output stage,
// series RC Miller compensation.
subckt r2r_fc INP INM OUT IBN VDD VSS
M1 (pa INP tn VSS) nch l=0.3u w=20u m=1 nf=10
M2 (pb INM tn VSS) nch l=0.3u w=20u m=1 nf=10
M3 (tn IBN VSS VSS) nch l=1u w=10u m=1 nf=5
M4 (na INP tp VDD) pch l=0.3u w=40u m=1 nf=10
M5 (nb INM tp VDD) pch l=0.3u w=40u m=1 nf=10
M6 (tp vbp VDD VDD) pch l=1u w=20u m=1 nf=5
M7 (pa pg VDD VDD) pch l=1u w=40u m=1 nf=10
M8 (pb pg VDD VDD) pch l=1u w=40u m=1 nf=10
M9 (pg vbpc pa VDD) pch l=0.3u w=20u m=1 nf=5
M10 (o1 vbpc pb VDD) pch l=0.3u w=20u m=1 nf=5
M11 (pg vbnc na VSS) nch l=0.3u w=10u m=1 nf=5
M12 (o1 vbnc nb VSS) nch l=0.3u w=10u m=1 nf=5
M13 (na IBN VSS VSS) nch l=1u w=20u m=1 nf=5
M14 (nb IBN VSS VSS) nch l=1u w=20u m=1 nf=5
M15 (OUT o1 VDD VDD) pch l=0.3u w=80u m=2 nf=10
M16 (OUT IBN VSS VSS) nch l=1u w=40u m=2 nf=10
CC (o1 zc) mimcap w=25u l=25u
RZ (zc OUT) rppolywo l=6u w=1u
M20 (IBN IBN VSS VSS) nch l=1u w=5u m=1 nf=2
M21 (vbp IBN VSS VSS) nch l=1u w=5u m=1 nf=2
M22 (vbp vbp VDD VDD) pch l=1u w=10u m=1 nf=2
M23 (vbpc IBN VSS VSS) nch l=1u w=5u m=1 nf=2
M24 (vbpc vbpc VDD VDD) pch l=3u w=4u m=1 nf=1
M25 (vbnc vbp VDD VDD) pch l=1u w=10u m=1 nf=2
M26 (vbnc vbnc VSS VSS) nch l=3u w=2u m=1 nf=1
ends r2r_fc
