// Two-stage fully differential Miller OTA with a CMFB loop per stage.
// Stage-1 CMFB: resistive sense of the stage-1 outputs, NMOS-pair amplifier on the loads.
// Stage-2 CMFB: two-pair (difference-difference) amplifier on the output current sources.
// Nulling resistors are NMOS triode devices with the gate on VDD.
subckt fd2_dual VINP VINN VOUTP VOUTN VCM1 VCM2 IB VDD VSS
M1 (o1m VINP tail VSS) nch_lvt l=0.3u w=20u m=1 nf=10
M2 (o1p VINN tail VSS) nch_lvt l=0.3u w=20u m=1 nf=10
M3 (o1m cm1 VDD VDD) pch l=0.5u w=12u m=1 nf=6
M4 (o1p cm1 VDD VDD) pch l=0.5u w=12u m=1 nf=6
M5 (tail IB VSS VSS) nch l=0.5u w=16u m=2 nf=8
M6 (VOUTP o1m VDD VDD) pch l=0.2u w=48u m=2 nf=12
M7 (VOUTN o1p VDD VDD) pch l=0.2u w=48u m=2 nf=12
M8 (VOUTP cm2 VSS VSS) nch l=0.5u w=24u m=2 nf=12
M9 (VOUTN cm2 VSS VSS) nch l=0.5u w=24u m=2 nf=12
MR1 (o1m VDD z1 VSS) nch l=0.5u w=2u m=1 nf=1
MR2 (o1p VDD z2 VSS) nch l=0.5u w=2u m=1 nf=1
CC1 (z1 VOUTP) cfmom_2t nr=40 lr=10u w=70n s=70n stm=3 spm=6 multi=1
CC2 (z2 VOUTN) cfmom_2t nr=40 lr=10u w=70n s=70n stm=3 spm=6 multi=1
R1 (o1m s1) rppolywo l=40u w=1u
R2 (o1p s1) rppolywo l=40u w=1u
M10 (c1a s1 ct1 VSS) nch l=0.5u w=4u m=1 nf=2
M11 (cm1 VCM1 ct1 VSS) nch l=0.5u w=4u m=1 nf=2
M12 (c1a c1a VDD VDD) pch l=0.5u w=3u m=1 nf=2
M13 (cm1 cm1 VDD VDD) pch l=0.5u w=3u m=1 nf=2
M14 (ct1 IB VSS VSS) nch l=0.5u w=4u m=1 nf=2
M20 (da VOUTP e1 VSS) nch l=0.5u w=4u m=1 nf=2
M21 (db VCM2 e1 VSS) nch l=0.5u w=4u m=1 nf=2
M22 (da VOUTN e2 VSS) nch l=0.5u w=4u m=1 nf=2
M23 (db VCM2 e2 VSS) nch l=0.5u w=4u m=1 nf=2
M24 (e1 IB VSS VSS) nch l=0.5u w=4u m=1 nf=2
M25 (e2 IB VSS VSS) nch l=0.5u w=4u m=1 nf=2
M26 (da da VDD VDD) pch l=0.5u w=4u m=1 nf=2
M27 (db db VDD VDD) pch l=0.5u w=4u m=1 nf=2
M28 (cm2 da VDD VDD) pch l=0.5u w=4u m=1 nf=2
M29 (cm2 cm2 VSS VSS) nch l=0.5u w=4u m=1 nf=2
M30 (IB IB VSS VSS) nch l=0.5u w=4u m=1 nf=2
ends fd2_dual
