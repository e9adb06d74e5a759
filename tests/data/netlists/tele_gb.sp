// Gain-boosted telescopic fully differential OTA. The NMOS cascodes M3/M4 are boosted by
// one single-ended auxiliary amplifier per side (PMOS pair comparing the cascode source
// with VB1, NMOS mirror load). CMFB: resistive output sense into an NMOS-pair amplifier
// driving the PMOS loads.
subckt tele_gb VINP VINN VOUTP VOUTN VCM VB1 VB2 IB VDD VSS
M1 (xm VINP tail VSS) nch_lvt l=0.2u w=24u m=1 nf=8
M2 (xp VINN tail VSS) nch_lvt l=0.2u w=24u m=1 nf=8
M3 (VOUTN gbm xm VSS) nch l=0.2u w=16u m=1 nf=8
M4 (VOUTP gbp xp VSS) nch l=0.2u w=16u m=1 nf=8
M5 (VOUTN VB2 ym VDD) pch l=0.2u w=24u m=1 nf=8
M6 (VOUTP VB2 yp VDD) pch l=0.2u w=24u m=1 nf=8
M7 (ym vcmfb VDD VDD) pch l=0.5u w=24u m=1 nf=8
M8 (yp vcmfb VDD VDD) pch l=0.5u w=24u m=1 nf=8
M9 (tail IB VSS VSS) nch l=0.5u w=16u m=2 nf=8
MA1 (gbm xm at VDD) pch l=0.3u w=4u m=1 nf=2
MA2 (am VB1 at VDD) pch l=0.3u w=4u m=1 nf=2
MA3 (am am VSS VSS) nch l=0.5u w=2u m=1 nf=1
MA4 (gbm am VSS VSS) nch l=0.5u w=2u m=1 nf=1
MA5 (at vbp VDD VDD) pch l=0.5u w=4u m=1 nf=2
MB1 (gbp xp bt VDD) pch l=0.3u w=4u m=1 nf=2
MB2 (bm VB1 bt VDD) pch l=0.3u w=4u m=1 nf=2
MB3 (bm bm VSS VSS) nch l=0.5u w=2u m=1 nf=1
MB4 (gbp bm VSS VSS) nch l=0.5u w=2u m=1 nf=1
MB5 (bt vbp VDD VDD) pch l=0.5u w=4u m=1 nf=2
RS1 (VOUTP cms) rppolywo l=40u w=1u
RS2 (VOUTN cms) rppolywo l=40u w=1u
M10 (c1 cms ct VSS) nch l=0.5u w=4u m=1 nf=2
M11 (vcmfb VCM ct VSS) nch l=0.5u w=4u m=1 nf=2
M12 (c1 c1 VDD VDD) pch l=0.5u w=4u m=1 nf=2
M13 (vcmfb vcmfb VDD VDD) pch l=0.5u w=4u m=1 nf=2
M14 (ct IB VSS VSS) nch l=0.5u w=4u m=1 nf=2
M20 (IB IB VSS VSS) nch l=0.5u w=4u m=1 nf=2
M21 (vbp IB VSS VSS) nch l=0.5u w=4u m=1 nf=2
M22 (vbp vbp VDD VDD) pch l=0.5u w=8u m=1 nf=2
ends tele_gb
