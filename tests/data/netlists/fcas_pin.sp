// Folded-cascode fully differential OTA with a PMOS input pair.
// CMFB: a separate amplifier of two NMOS differential pairs (no resistive sense)
// comparing each output with VCM, mirrored onto the NMOS folding current sinks.
// Bias: cascode current mirror from IREF giving vbn, vbnc, vbp, vbpc.
subckt fcas_pin VIP VIN VOP VON VCM IREF VDD VSS
M0 (tailp vbp VDD VDD) pch l=0.5u w=40u m=2 nf=10
M1 (fm VIP tailp VDD) pch_lvt l=0.3u w=40u m=1 nf=10
M2 (fp VIN tailp VDD) pch_lvt l=0.3u w=40u m=1 nf=10
M3 (fm vcmfb VSS VSS) nch l=0.5u w=30u m=1 nf=10
M4 (fp vcmfb VSS VSS) nch l=0.5u w=30u m=1 nf=10
M5 (VON IREF fm VSS) nch l=0.2u w=15u m=1 nf=5
M6 (VOP IREF fp VSS) nch l=0.2u w=15u m=1 nf=5
M7 (VON vbpc pm VDD) pch l=0.2u w=30u m=1 nf=10
M8 (VOP vbpc pp VDD) pch l=0.2u w=30u m=1 nf=10
M9 (pm vbp VDD VDD) pch l=0.5u w=30u m=1 nf=10
M10 (pp vbp VDD VDD) pch l=0.5u w=30u m=1 nf=10
M20 (ca VOP ct1 VSS) nch l=0.5u w=4u m=1 nf=2
M21 (cb VCM ct1 VSS) nch l=0.5u w=4u m=1 nf=2
M22 (ca VON ct2 VSS) nch l=0.5u w=4u m=1 nf=2
M23 (cb VCM ct2 VSS) nch l=0.5u w=4u m=1 nf=2
M24 (ct1 vbn VSS VSS) nch l=0.5u w=4u m=1 nf=2
M25 (ct2 vbn VSS VSS) nch l=0.5u w=4u m=1 nf=2
M26 (ca ca VDD VDD) pch l=0.5u w=4u m=1 nf=2
M27 (cb cb VDD VDD) pch l=0.5u w=4u m=1 nf=2
M28 (vcmfb ca VDD VDD) pch l=0.5u w=4u m=1 nf=2
M29 (vcmfb vcmfb VSS VSS) nch l=0.5u w=4u m=1 nf=2
M30 (IREF IREF vbn VSS) nch l=0.5u w=8u m=1 nf=4
M31 (vbn vbn VSS VSS) nch l=0.5u w=8u m=1 nf=4
M32 (vbpc IREF m32s VSS) nch l=0.5u w=8u m=1 nf=4
M33 (m32s vbn VSS VSS) nch l=0.5u w=8u m=1 nf=4
M34 (vbpc vbpc vbp VDD) pch l=0.5u w=16u m=1 nf=4
M35 (vbp vbp VDD VDD) pch l=0.5u w=16u m=1 nf=4
ends fcas_pin
